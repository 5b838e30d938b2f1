# Toy experiments of the paper (Sec. 3, Figs. 1-3) and the [Re] report (Sec. 4, Fig. 11):
# SSM loss with and without data noise, exact vs learned scores of the 2-D mixture,
# plain vs annealed Langevin with exact scores, annealed Langevin over eps. Settings: the config's `toy` block.


rule toy_ssm_noise:
    input:
        train=lambda wc: data_files(config["toy"]["ssm_noise"]["dataset"])["train"],
    output:
        png=report(
            toy_figure("ssm_noise"),
            caption="../report/fig1_ssm_loss.rst",
            category="Toy experiments",
        ),
        pdf=toy_figure("ssm_noise", "pdf"),
        loss=f"{TOY}/ssm_noise/loss.csv",
        summary=f"{TOY}/ssm_noise/summary.json",
    log:
        f"{LOGS}/toy/ssm_noise.log",
    benchmark:
        f"{BENCH}/toy/ssm_noise.tsv"
    threads: cluster_threads("toy_ssm_noise", 2, gpu=True)
    resources:
        **cluster_resources("toy_ssm_noise", gpu=True),
        mem_mb=cluster_mem("toy_ssm_noise", 4000),
    params:
        settings=settings_of("toy_ssm_noise"),
        out=lambda wc, output: str(Path(output.png).parent),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn toy ssm-noise --data {input.train:q} --settings {params.settings:q}"
        " --out-dir {params.out:q} > {log:q} 2>&1"


rule toy_scores:
    output:
        png=report(
            toy_figure("scores"),
            caption="../report/fig2_scores.rst",
            category="Toy experiments",
        ),
        pdf=toy_figure("scores", "pdf"),
        arrays=f"{TOY}/scores/scores.npz",
        summary=f"{TOY}/scores/summary.json",
        loss=f"{TOY}/scores/loss.csv",
    log:
        f"{LOGS}/toy/scores.log",
    benchmark:
        f"{BENCH}/toy/scores.tsv"
    threads: cluster_threads("toy_scores", 1)
    resources:
        **cluster_resources("toy_scores"),
        mem_mb=cluster_mem("toy_scores", 2000),
    params:
        settings=settings_of("toy_scores"),
        out=lambda wc, output: str(Path(output.png).parent),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn toy scores --settings {params.settings:q}"
        " --out-dir {params.out:q} > {log:q} 2>&1"


rule toy_langevin_modes:
    output:
        png=report(
            toy_figure("langevin_modes"),
            caption="../report/fig3_langevin.rst",
            category="Toy experiments",
        ),
        pdf=toy_figure("langevin_modes", "pdf"),
        fractions=report(
            f"{TOY}/langevin_modes/mode_fractions.csv",
            caption="../report/fig3_mode_fractions.rst",
            category="Toy experiments",
        ),
        json=f"{TOY}/langevin_modes/mode_fractions.json",
        samples=f"{TOY}/langevin_modes/samples.npz",
    log:
        f"{LOGS}/toy/langevin_modes.log",
    benchmark:
        f"{BENCH}/toy/langevin_modes.tsv"
    threads: cluster_threads("toy_langevin_modes", 1)
    resources:
        **cluster_resources("toy_langevin_modes"),
        mem_mb=cluster_mem("toy_langevin_modes", 2000),
    params:
        settings=settings_of("toy_langevin_modes"),
        out=lambda wc, output: str(Path(output.png).parent),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn toy langevin-modes --settings {params.settings:q}"
        " --out-dir {params.out:q} > {log:q} 2>&1"


rule toy_eps_sweep:
    output:
        png=report(
            toy_figure("eps_sweep"),
            caption="../report/fig11_eps_sweep.rst",
            category="Toy experiments",
        ),
        pdf=toy_figure("eps_sweep", "pdf"),
        csv=f"{TOY}/eps_sweep/divergence.csv",
        json=f"{TOY}/eps_sweep/divergence.json",
    log:
        f"{LOGS}/toy/eps_sweep.log",
    benchmark:
        f"{BENCH}/toy/eps_sweep.tsv"
    threads: cluster_threads("toy_eps_sweep", 1)
    resources:
        **cluster_resources("toy_eps_sweep"),
        mem_mb=cluster_mem("toy_eps_sweep", 2000),
    params:
        settings=settings_of("toy_eps_sweep"),
        out=lambda wc, output: str(Path(output.png).parent),
    shell:
        "OMP_NUM_THREADS={threads} python -m ncsn toy eps-sweep --settings {params.settings:q}"
        " --out-dir {params.out:q} > {log:q} 2>&1"
