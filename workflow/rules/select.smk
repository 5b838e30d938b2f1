# Model selection: the held-out DSM loss of every published checkpoint (cheap), the
# FID of every checkpoint on a small sample (one job per checkpoint, so they spread over
# GPUs/nodes) or, for criterion loss_topk, only of the k of lowest held-out loss (chosen
# by the rank_checkpoints checkpoint job); then the best (or last) one.


rule heldout_loss:
    input:
        run=f"{run_dir('{dataset}', '{experiment}')}/run.json",
        data=lambda wc: data_files(wc.dataset)["test"],
    output:
        heldout_file("{dataset}", "{experiment}", "{iteration}"),
    log:
        f"{LOGS}/heldout/{{dataset}}/{{experiment}}/ckpt_{{iteration}}.log",
    benchmark:
        f"{BENCH}/heldout/{{dataset}}/{{experiment}}/ckpt_{{iteration}}.tsv"
    wildcard_constraints:
        experiment=name_pattern(trained_experiments(config)),
    priority: PRIORITY["heldout_loss"]
    threads: cluster_threads("heldout_loss", 1, gpu=True)
    resources:
        **cluster_resources("heldout_loss", gpu=True),
        mem_mb=cluster_mem("heldout_loss", 4000),
    params:
        checkpoint=lambda wc: checkpoint_file(wc.dataset, wc.experiment, wc.iteration),
        settings=settings_of("heldout_loss"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn heldout-loss --checkpoint {params.checkpoint:q}"
        " --data {input.data:q} --settings {params.settings:q} --threads {threads}"
        " --out {output:q} > {log:q} 2>&1"


checkpoint rank_checkpoints:
    input:
        losses=lambda wc: heldout_files(config, wc.experiment),
    output:
        candidates_file("{dataset}", "{experiment}"),
    log:
        f"{LOGS}/select/{{dataset}}/{{experiment}}/candidates.log",
    threads: 1
    params:
        settings=settings_of("rank_checkpoints"),
    shell:
        "python -m ncsn select --losses {input.losses:q} --settings {params.settings:q}"
        " --candidates {output:q} > {log:q} 2>&1"


rule score:
    input:
        unpack(fid_inputs),
        run=f"{run_dir('{dataset}', '{experiment}')}/run.json",
    output:
        score=score_file("{dataset}", "{experiment}", "{iteration}"),
        samples=score_samples_file("{dataset}", "{experiment}", "{iteration}"),
    log:
        f"{LOGS}/score/{{dataset}}/{{experiment}}/ckpt_{{iteration}}.log",
    benchmark:
        f"{BENCH}/score/{{dataset}}/{{experiment}}/ckpt_{{iteration}}.tsv"
    wildcard_constraints:
        experiment=name_pattern(trained_experiments(config)),
    priority: PRIORITY["score"]
    threads: cluster_threads("score", 2, gpu=True)
    resources:
        **cluster_resources("score", gpu=True),
        mem_mb=cluster_mem("score", 8000),
    params:
        checkpoint=lambda wc: checkpoint_file(wc.dataset, wc.experiment, wc.iteration),
        num_samples=lambda wc: experiment(config, wc.experiment)["selection"][
            "num_samples"
        ],
        settings=settings_of("score"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn score --checkpoint {params.checkpoint:q}"
        " --extractor {input.extractor:q} --refstats {input.refstats:q}"
        " --num-samples {params.num_samples} --settings {params.settings:q}"
        " --out {output.score:q} --samples-out {output.samples:q} > {log:q} 2>&1"


rule select:
    input:
        run=f"{run_dir('{dataset}', '{experiment}')}/run.json",
        scores=lambda wc: score_files(config, wc.experiment),
        losses=lambda wc: heldout_files(config, wc.experiment),
    output:
        **selection_files("{dataset}", "{experiment}"),
    log:
        f"{LOGS}/select/{{dataset}}/{{experiment}}.log",
    benchmark:
        f"{BENCH}/select/{{dataset}}/{{experiment}}.tsv"
    wildcard_constraints:
        experiment=name_pattern(trained_experiments(config)),
    priority: PRIORITY["select"]
    threads: 1
    resources:
        mem_mb=1000,
    params:
        settings=settings_of("select"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn select --run {input.run:q} --scores {input.scores:q}"
        " --losses {input.losses:q}"
        " --settings {params.settings:q} --out {output.selection:q}"
        " --table {output.table:q} > {log:q} 2>&1"
