# The results table (one row per experiment beside the papers' numbers) and the
# timing table (training it/s, seconds per 1000 samples beside [Re] Table 1).

REPORT = f"{RESULTS}/report"


def report_targets(config: dict) -> list[str]:
    return [
        f"{REPORT}/{table}.{ext}"
        for table in ("results", "timing")
        for ext in ("md", "csv", "tex")
    ]


def report_inputs(wildcards) -> dict:
    names = experiment_names(config)
    return {
        "metrics": [metrics_file(experiment(config, x)["dataset"], x) for x in names],
        "selection": [
            selection_files(experiment(config, x)["dataset"], x)["selection"]
            for x in names
        ],
        "train_benchmark": [
            train_benchmark(experiment(config, x)["dataset"], x) for x in names
        ],
        "sample_benchmark": [b for x in names for b in sample_benchmarks(config, x)],
    }


def report_arguments(wildcards, input) -> str:
    """`--metrics NAME=PATH ...` for every experiment and input kind (paths in experiment order)."""
    names = experiment_names(config)
    args = []
    for key in ("metrics", "selection", "train_benchmark"):
        option = "--" + key.replace("_", "-")
        args += [f"{option} {name}={path}" for name, path in zip(names, input[key])]
    for name in names:
        args += [
            f"--sample-benchmark {name}={path}"
            for path in sample_benchmarks(config, name)
        ]
    return " ".join(args)


rule report_tables:
    input:
        unpack(report_inputs),
    output:
        md=report(
            f"{REPORT}/results.md",
            caption="../report/results_table.rst",
            category="Results",
        ),
        csv=f"{REPORT}/results.csv",
        tex=f"{REPORT}/results.tex",
        timing_md=report(
            f"{REPORT}/timing.md",
            caption="../report/timing_table.rst",
            category="Results",
        ),
        timing_csv=f"{REPORT}/timing.csv",
        timing_tex=f"{REPORT}/timing.tex",
    log:
        f"{LOGS}/report/tables.log",
    threads: 1
    resources:
        mem_mb=1000,
    params:
        settings=lambda wc: settings_json(
            {"experiments": config["experiments"], "device": config["device"]}
        ),
        arguments=report_arguments,
        out=REPORT,
    shell:
        "OMP_NUM_THREADS={threads} {NCSN} report --settings {params.settings:q} {params.arguments}"
        " --out-dir {params.out:q} > {log:q} 2>&1"
