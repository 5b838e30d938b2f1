# Toy experiments of the paper (Sec. 3, Figs. 1-3) and the [Re] report (Sec. 4):
# SSM loss with and without data noise, exact vs learned scores of the 2-D mixture,
# plain vs annealed Langevin with exact scores. Settings: the config's `toy` block.

TOY = f"{RESULTS}/toy"
TOY_KINDS = {  # config key -> (command kind, figure file)
    "ssm_noise": ("ssm-noise", "fig1_ssm_loss"),
    "scores": ("scores", "fig2_scores"),
    "langevin_modes": ("langevin-modes", "fig3_langevin"),
}


def toy_kinds(config: dict) -> list[str]:
    """The toy experiments this config runs (a `toy` block may switch each off with enabled: false)."""
    toy = config.get("toy", {})
    return [
        key for key in TOY_KINDS if toy.get(key, {}).get("enabled", True) and key in toy
    ]


def toy_problems(config: dict) -> list[str]:
    """Cross-references of the `toy` block the schema cannot express."""
    block = config.get("toy", {}).get("ssm_noise")
    if (
        block
        and block.get("enabled", True)
        and block["dataset"] not in config["datasets"]
    ):
        return [
            f"toy.ssm_noise.dataset: '{block['dataset']}' is not a key of 'datasets' (known: {', '.join(sorted(config['datasets']))})"
        ]
    return []


if toy_problems(config):
    raise WorkflowError(
        "The config cannot run:\n  - " + "\n  - ".join(toy_problems(config))
    )


def toy_settings(config: dict, key: str) -> dict:
    toy = config["toy"]
    block = {k: v for k, v in toy[key].items() if k != "enabled"}
    settings = {"seed": config["seed"], "device": config["device"], "experiment": block}
    if key != "ssm_noise":
        settings["gmm"] = toy["gmm"]
    return settings


def toy_figure(key: str, ext: str = "png") -> str:
    return f"{TOY}/{key}/{TOY_KINDS[key][1]}.{ext}"


def toy_targets(config: dict) -> list[str]:
    return [toy_figure(k, ext) for k in toy_kinds(config) for ext in ("png", "pdf")]


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
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=gpu_count,
    params:
        settings=lambda wc: settings_json(toy_settings(config, "ssm_noise")),
        out=f"{TOY}/ssm_noise",
    shell:
        "OMP_NUM_THREADS={threads} {NCSN} toy ssm-noise --data {input.train:q} --settings {params.settings:q}"
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
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        settings=lambda wc: settings_json(toy_settings(config, "scores")),
        out=f"{TOY}/scores",
    shell:
        "OMP_NUM_THREADS={threads} {NCSN} toy scores --settings {params.settings:q}"
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
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        settings=lambda wc: settings_json(toy_settings(config, "langevin_modes")),
        out=f"{TOY}/langevin_modes",
    shell:
        "OMP_NUM_THREADS={threads} {NCSN} toy langevin-modes --settings {params.settings:q}"
        " --out-dir {params.out:q} > {log:q} 2>&1"
