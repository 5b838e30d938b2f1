# Feature extractors and reference statistics for FID/IS.


rule train_extractor:
    input:
        unpack(extractor_training_data),
    output:
        model=f"{RESULTS}/extractors/{{extractor}}/model.pt",
        accuracy=f"{RESULTS}/extractors/{{extractor}}/accuracy.json",
    log:
        f"{LOGS}/train_extractor/{{extractor}}.log",
    benchmark:
        f"{BENCH}/train_extractor/{{extractor}}.tsv"
    priority: PRIORITY["train_extractor"]
    threads: cluster_threads("train_extractor", 2)
    resources:
        **cluster_resources("train_extractor"),
        mem_mb=cluster_mem("train_extractor", 4000),
    params:
        settings=settings_of("train_extractor"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn train-extractor --train {input.train:q} --test {input.test:q}"
        " --settings {params.settings:q} --out {output.model:q}"
        " --accuracy {output.accuracy:q} > {log:q} 2>&1"


rule ref_stats:
    input:
        unpack(lambda wc: extractor_files(config, wc.extractor)),
        train=data_files("{dataset}")[REFERENCE_SPLIT],
    output:
        refstats_file("{dataset}", "{extractor}"),
    log:
        f"{LOGS}/ref_stats/{{dataset}}/{{extractor}}.log",
    benchmark:
        f"{BENCH}/ref_stats/{{dataset}}/{{extractor}}.tsv"
    priority: PRIORITY["ref_stats"]
    threads: cluster_threads("ref_stats", 2, gpu=True)
    resources:
        **cluster_resources("ref_stats", gpu=True),
        mem_mb=cluster_mem("ref_stats", 8000),
    params:
        settings=settings_of("ref_stats"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn ref-stats --data {input.train:q} --extractor {input.extractor:q}"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"
