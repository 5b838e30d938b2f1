# Experiments without training: a `checkpoint:` block names an existing checkpoint
# (ours, or official with format: official, imported first); its selection.json names
# that file, so sampling, evaluation, figures and the report run as for trained ones.


rule import_official:
    input:
        lambda wc: experiment(config, wc.experiment)["checkpoint"]["path"],
    output:
        imported_checkpoint_file("{dataset}", "{experiment}"),
    log:
        f"{LOGS}/import_official/{{dataset}}/{{experiment}}.log",
    wildcard_constraints:
        experiment=name_pattern(given_experiments(config)),
    threads: cluster_threads("import_official", 1)
    resources:
        **cluster_resources("import_official"),
        mem_mb=cluster_mem("import_official", 4000),
    params:
        options=lambda wc: official_import_options(config, wc.experiment),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn import-official {input:q} {params.options}"
        " --out {output:q} > {log:q} 2>&1"


rule given_checkpoint:
    input:
        checkpoint=lambda wc: given_checkpoint_file(config, wc.experiment),
    output:
        selection=selection_files("{dataset}", "{experiment}")["selection"],
    log:
        f"{LOGS}/select/{{dataset}}/{{experiment}}.log",
    wildcard_constraints:
        experiment=name_pattern(given_experiments(config)),
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn select --checkpoint {input.checkpoint:q}"
        " --out {output.selection:q} > {log:q} 2>&1"
