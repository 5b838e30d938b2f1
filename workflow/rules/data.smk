# Data preparation: a data set -> cached uint8 train/test arrays.


rule prepare:
    output:
        **data_files("{dataset}"),
    log:
        f"{LOGS}/prepare/{{dataset}}.log",
    benchmark:
        prepare_benchmark("{dataset}")
    priority: PRIORITY["prepare"]
    threads: 1
    resources:
        mem_mb=4000,
    params:
        settings=settings_of("prepare"),
        out=lambda wc: data_dir(wc.dataset),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn prepare --name {wildcards.dataset} --settings {params.settings:q}"
        " --out-dir {params.out:q} > {log:q} 2>&1"
