# Training, one job per experiment. The resumable state lives in
# results/train_state/... (see train_state_dir), which is not a Snakemake output:
# when a job is killed (wall time, pre-emption, Ctrl-C) Snakemake deletes the
# declared outputs but the rerun resumes from the last snapshot there. Declared
# outputs are the run record and loss log, written when training finishes, next to
# the published checkpoints (results/runs/.../checkpoints/ckpt_{iteration}.pt; their
# number depends on the experiment, which a single rule's output list cannot
# express, so rules downstream depend on run.json and name the checkpoint file in
# params). A training longer than cluster.max_runtime runs as a chain of submissions:
# each stops before its time limit with a snapshot (exit 75) and the next one, a retry
# (cluster.smk, set_train_retries), resumes there.


rule train:
    input:
        train=data_files("{dataset}")["train"],
    output:
        run=f"{run_dir('{dataset}', '{experiment}')}/run.json",
        loss=f"{run_dir('{dataset}', '{experiment}')}/loss.csv",
    log:
        f"{LOGS}/train/{{dataset}}/{{experiment}}.log",
    benchmark:
        train_benchmark("{dataset}", "{experiment}")
    wildcard_constraints:
        experiment=name_pattern(trained_experiments(config)),
    priority: PRIORITY["train"]
    threads: cluster_threads("train", 4, gpu=True)
    resources:
        **cluster_resources("train", gpu=True),
        mem_mb=cluster_mem("train", 16000),
    params:
        settings=settings_of("train"),
        state=lambda wc: train_state_dir(
            wc.dataset, wc.experiment, rule_envelope("train", wc)
        ),
        run=lambda wc: run_dir(wc.dataset, wc.experiment),
        stop_margin=config["cluster"]["stop_margin"],
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn train --data {input.train:q} --state-dir {params.state:q}"
        " --out-dir {params.run:q} --settings {params.settings:q}"
        " --threads {threads} --stop-margin {params.stop_margin} > {log:q} 2>&1"
