# Figures of the image experiments (paper Figs. 4-7, App. Figs. 9-10; [Re] Figs. 5-8, 12-13)
# and nearest neighbours. Settings: the config's `figures` block; each figure kind names
# the experiments it covers (default: all), the sweep names one experiment.


rule figure_samples:
    input:
        shards=lambda wc: shard_files(config, wc.experiment),
    output:
        report(
            f"{FIGURES}/{{dataset}}/{{experiment}}/samples.png",
            caption="../report/samples.rst",
            category="Samples",
            subcategory="{experiment}",
        ),
    log:
        f"{LOGS}/figures/{{dataset}}/{{experiment}}/samples.log",
    benchmark:
        f"{BENCH}/figures/{{dataset}}/{{experiment}}/samples.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        settings=settings_of("figure_samples"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn figure samples --samples {input.shards:q}"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


rule figure_intermediate:
    input:
        selection=selection_files("{dataset}", "{experiment}")["selection"],
    output:
        report(
            f"{FIGURES}/{{dataset}}/{{experiment}}/intermediate.png",
            caption="../report/intermediate.rst",
            category="Samples",
            subcategory="{experiment}",
        ),
    log:
        f"{LOGS}/figures/{{dataset}}/{{experiment}}/intermediate.log",
    benchmark:
        f"{BENCH}/figures/{{dataset}}/{{experiment}}/intermediate.tsv"
    threads: cluster_threads("figure_intermediate", 2, gpu=True)
    resources:
        **cluster_resources("figure_intermediate", gpu=True),
        mem_mb=cluster_mem("figure_intermediate", 4000),
    params:
        settings=settings_of("figure_intermediate"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn figure intermediate --selection {input.selection:q}"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


rule figure_inpainting:
    input:
        selection=selection_files("{dataset}", "{experiment}")["selection"],
        data=lambda wc: data_files(wc.dataset)[inpainting_split(config, wc.dataset)],
    output:
        report(
            f"{FIGURES}/{{dataset}}/{{experiment}}/inpainting.png",
            caption="../report/inpainting.rst",
            category="Inpainting",
            subcategory="{experiment}",
        ),
    log:
        f"{LOGS}/figures/{{dataset}}/{{experiment}}/inpainting.log",
    benchmark:
        f"{BENCH}/figures/{{dataset}}/{{experiment}}/inpainting.tsv"
    threads: cluster_threads("figure_inpainting", 2, gpu=True)
    resources:
        **cluster_resources("figure_inpainting", gpu=True),
        mem_mb=cluster_mem("figure_inpainting", 4000),
    params:
        settings=settings_of("figure_inpainting"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn figure inpainting --selection {input.selection:q}"
        " --data {input.data:q} --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


rule neighbours:
    input:
        unpack(fid_inputs),
        shards=lambda wc: shard_files(config, wc.experiment),
        train=lambda wc: data_files(wc.dataset)["train"],
    output:
        pixel=report(
            f"{neighbours_dir('{dataset}', '{experiment}')}/pixel.png",
            caption="../report/neighbours_pixel.rst",
            category="Nearest neighbours",
            subcategory="{experiment}",
        ),
        feature=report(
            f"{neighbours_dir('{dataset}', '{experiment}')}/feature.png",
            caption="../report/neighbours_feature.rst",
            category="Nearest neighbours",
            subcategory="{experiment}",
        ),
        arrays=f"{neighbours_dir('{dataset}', '{experiment}')}/neighbours.npz",
        summary=f"{neighbours_dir('{dataset}', '{experiment}')}/summary.json",
    log:
        f"{LOGS}/neighbours/{{dataset}}/{{experiment}}.log",
    benchmark:
        f"{BENCH}/neighbours/{{dataset}}/{{experiment}}.tsv"
    threads: cluster_threads("neighbours", 2, gpu=True)
    resources:
        **cluster_resources("neighbours", gpu=True),
        mem_mb=cluster_mem("neighbours", 8000),
    params:
        settings=settings_of("neighbours"),
        out=lambda wc: neighbours_dir(wc.dataset, wc.experiment),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn neighbours --samples {input.shards:q} --train {input.train:q}"
        " --extractor {input.extractor:q} --refstats {input.refstats:q}"
        " --settings {params.settings:q} --out-dir {params.out:q} > {log:q} 2>&1"


rule figure_loss:
    input:
        lambda wc: [
            f"{run_dir(experiment(config, x)['dataset'], x)}/loss.csv"
            for x in loss_experiments(config)
        ],
    output:
        png=report(
            f"{FIGURES}/loss.png", caption="../report/loss.rst", category="Training"
        ),
        pdf=f"{FIGURES}/loss.pdf",
    log:
        f"{LOGS}/figures/loss.log",
    benchmark:
        f"{BENCH}/figures/loss.tsv"
    threads: 1
    params:
        inputs=lambda wc, input: " ".join(
            f"--input {x}={p}" for x, p in zip(loss_experiments(config), input)
        ),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn figure loss {params.inputs} --out {output.png:q} > {log:q} 2>&1"


rule figure_fid_vs_checkpoint:
    input:
        lambda wc: [
            selection_files(experiment(config, x)["dataset"], x)["table"]
            for x in fid_table_experiments(config)
        ],
    output:
        png=report(
            f"{FIGURES}/fid_vs_checkpoint.png",
            caption="../report/fid_vs_checkpoint.rst",
            category="Training",
        ),
        pdf=f"{FIGURES}/fid_vs_checkpoint.pdf",
    log:
        f"{LOGS}/figures/fid_vs_checkpoint.log",
    benchmark:
        f"{BENCH}/figures/fid_vs_checkpoint.tsv"
    threads: 1
    params:
        inputs=lambda wc, input: " ".join(
            f"--input {x}={p}" for x, p in zip(fid_table_experiments(config), input)
        ),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn figure fid-checkpoints {params.inputs} --out {output.png:q} > {log:q} 2>&1"


# The cell at the experiment's own eps and T repeats the chosen checkpoint's selection score
# when the sample counts agree (ncsn.settings.reuses_selection_score): `ncsn score --reuse`
# copies that score and its samples; the other cells wait for no score.
rule sweep_cell:
    input:
        unpack(fid_inputs),
        selection=selection_files("{dataset}", "{experiment}")["selection"],
        reuse=lambda wc: sweep_reuse_files(wc.experiment, wc.eps, wc.T),
    output:
        score=f"{sweep_cell_dir('{dataset}', '{experiment}', '{eps}', '{T}')}/score.json",
        samples=f"{sweep_cell_dir('{dataset}', '{experiment}', '{eps}', '{T}')}/samples.npz",
    log:
        f"{LOGS}/sweep/{{dataset}}/{{experiment}}/eps{{eps}}_T{{T}}.log",
    benchmark:
        f"{BENCH}/sweep/{{dataset}}/{{experiment}}/eps{{eps}}_T{{T}}.tsv"
    wildcard_constraints:
        eps=r"[0-9][0-9.eE+-]*",
        T=r"\d+",
    threads: cluster_threads("sweep_cell", 2, gpu=True)
    resources:
        **cluster_resources("sweep_cell", gpu=True),
        mem_mb=cluster_mem("sweep_cell", 8000),
    params:
        settings=settings_of("sweep_cell"),
        num_samples=lambda wc: config["figures"]["sweep"]["num_samples"],
    shell:
        # the checkpoint `ncsn select` chose, read from selection.json when the job runs
        "OMP_NUM_THREADS={threads} python -m ncsn score --selection {input.selection:q}"
        " --extractor {input.extractor:q} --refstats {input.refstats:q} --num-samples {params.num_samples}"
        " --settings {params.settings:q} --out {output.score:q} --samples-out {output.samples:q}"
        " --reuse {input.reuse:q} > {log:q} 2>&1"


rule figure_sweep:
    input:
        lambda wc: [
            f"{sweep_cell_dir(wc.dataset, wc.experiment, eps, T)}/score.json"
            for eps, T in sweep_cells(config)
        ],
    output:
        png=report(
            f"{FIGURES}/{{dataset}}/{{experiment}}/sweep.png",
            caption="../report/sweep.rst",
            category="Sampling sensitivity",
        ),
        pdf=f"{FIGURES}/{{dataset}}/{{experiment}}/sweep.pdf",
        csv=f"{FIGURES}/{{dataset}}/{{experiment}}/sweep.csv",
        samples=report(
            f"{FIGURES}/{{dataset}}/{{experiment}}/sweep_samples.png",
            caption="../report/sweep_samples.rst",
            category="Sampling sensitivity",
        ),
    log:
        f"{LOGS}/figures/{{dataset}}/{{experiment}}/sweep.log",
    benchmark:
        f"{BENCH}/figures/{{dataset}}/{{experiment}}/sweep.tsv"
    threads: 1
    params:
        inputs=lambda wc, input: " ".join(
            f"--input {ncsn.sweep.cell_label(eps, T)}={p}"
            for (eps, T), p in zip(sweep_cells(config), input)
        ),
        settings=settings_of("figure_sweep"),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn figure sweep {params.inputs} --settings {params.settings:q}"
        " --out {output.png:q} > {log:q} 2>&1"
