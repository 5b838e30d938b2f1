# The results table (one row per run beside the papers' numbers; the mean over seeds and
# the FID comparisons of experiments on the same data set beside it) and the
# timing table (data preparation, training it/s, seconds per 1000 samples and timed
# sampling jobs of 1, 100 and 1000 images beside [Re] Table 1).


rule sample_timing:
    input:
        selection=selection_files("{dataset}", "{experiment}")["selection"],
    output:
        f"{TIMING}/{{dataset}}/{{experiment}}/n{{images}}.npz",
    log:
        f"{LOGS}/sample_timing/{{dataset}}/{{experiment}}/n{{images}}.log",
    benchmark:
        timed_sample_benchmark("{dataset}", "{experiment}", "{images}")
    wildcard_constraints:
        images=r"\d+",
    threads: cluster_threads("sample_timing", 2, gpu=True)
    resources:
        **cluster_resources("sample_timing", gpu=True),
        mem_mb=cluster_mem("sample_timing", 8000),
    params:
        settings=settings_of("sample_timing"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn sample --selection {input.selection:q}"
        " --num-samples {wildcards.images} --shard 0 --shards 1"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


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
        seeds_md=report(
            f"{REPORT}/seeds.md",
            caption="../report/seeds_table.rst",
            category="Results",
        ),
        seeds_csv=f"{REPORT}/seeds.csv",
        seeds_tex=f"{REPORT}/seeds.tex",
        comparisons_md=report(
            f"{REPORT}/comparisons.md",
            caption="../report/comparisons_table.rst",
            category="Results",
        ),
        comparisons_csv=f"{REPORT}/comparisons.csv",
        comparisons_tex=f"{REPORT}/comparisons.tex",
        fid_by_seed=report(
            f"{REPORT}/fid_by_seed.png",
            caption="../report/fid_by_seed.rst",
            category="Results",
        ),
        fid_by_seed_pdf=f"{REPORT}/fid_by_seed.pdf",
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
        settings=settings_of("report_tables"),
        arguments=report_arguments,
        out=lambda wc, output: str(Path(output.md).parent),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn report --settings {params.settings:q} {params.arguments}"
        " --out-dir {params.out:q} > {log:q} 2>&1"
