# Final evaluation: K sampling shards of the selected checkpoint, then IS/FID.


rule sample:
    input:
        selection=selection_files("{dataset}", "{experiment}")["selection"],
    output:
        shard_file("{dataset}", "{experiment}", "{k}", "{K}"),
    log:
        f"{LOGS}/sample/{{dataset}}/{{experiment}}/shard_{{k}}_of_{{K}}.log",
    benchmark:
        f"{BENCH}/sample/{{dataset}}/{{experiment}}/shard_{{k}}_of_{{K}}.tsv"
    priority: PRIORITY["sample"]
    threads: cluster_threads("sample", 2, gpu=True)
    resources:
        **cluster_resources("sample", gpu=True),
        mem_mb=cluster_mem("sample", 8000),
    params:
        num_samples=lambda wc: experiment(config, wc.experiment)["evaluation"][
            "num_samples"
        ],
        settings=settings_of("sample"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn sample --selection {input.selection:q}"
        " --num-samples {params.num_samples} --shard {wildcards.k} --shards {wildcards.K}"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


rule evaluate:
    input:
        unpack(fid_inputs),
        ref_data=lambda wc: data_files(wc.dataset)[REFERENCE_SPLIT],
        shards=lambda wc: shard_files(config, wc.experiment),
    output:
        metrics_file("{dataset}", "{experiment}"),
    log:
        f"{LOGS}/evaluate/{{dataset}}/{{experiment}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{dataset}}/{{experiment}}.tsv"
    priority: PRIORITY["evaluate"]
    threads: cluster_threads("evaluate", 2, gpu=True)
    resources:
        **cluster_resources("evaluate", gpu=True),
        mem_mb=cluster_mem("evaluate", 16000),
    params:
        settings=settings_of("evaluate"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn evaluate --samples {input.shards:q}"
        " --extractor {input.extractor:q} --refstats {input.refstats:q}"
        " --ref-data {input.ref_data:q} --settings {params.settings:q}"
        " --out {output:q} > {log:q} 2>&1"
