# The results table (one row per experiment beside the papers' numbers) and the
# timing table (training it/s, seconds per 1000 samples beside [Re] Table 1).


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
    benchmark:
        f"{BENCH}/report/tables.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        settings=lambda wc: settings_json(
            {"experiments": config["experiments"], "device": config["device"]}
        ),
        arguments=report_arguments,
        out=lambda wc, output: str(Path(output.md).parent),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn report --settings {params.settings:q} {params.arguments}"
        " --out-dir {params.out:q} > {log:q} 2>&1"
