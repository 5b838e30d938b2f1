# Helpers of the toy, figures and report stages (toy.smk, figures.smk, report.smk):
# paths and the `toy_targets`, `figures_targets`, `neighbours_targets` and
# `report_targets` that common.smk's all_targets() names. Functions only, so the rule
# files hold rules only.

import ncsn.settings
import ncsn.sweep

# ---------------------------------------------------------------- toy

TOY = f"{RESULTS}/toy"
TOY_KINDS = {  # config key -> (command kind, figure file)
    "ssm_noise": ("ssm-noise", "fig1_ssm_loss"),
    "scores": ("scores", "fig2_scores"),
    "langevin_modes": ("langevin-modes", "fig3_langevin"),
    "eps_sweep": ("eps-sweep", "fig11_eps_sweep"),
}


def toy_kinds(config: dict) -> list[str]:
    """The toy experiments this config runs (a `toy` block may switch each off with enabled: false)."""
    toy = config.get("toy", {})
    return [
        key for key in TOY_KINDS if toy.get(key, {}).get("enabled", True) and key in toy
    ]


def toy_figure(key: str, ext: str = "png") -> str:
    return f"{TOY}/{key}/{TOY_KINDS[key][1]}.{ext}"


def toy_targets(config: dict) -> list[str]:
    return [toy_figure(k, ext) for k in toy_kinds(config) for ext in ("png", "pdf")]


# ---------------------------------------------------------------- figures

FIGURES = f"{RESULTS}/figures"
SWEEP = f"{RESULTS}/sweep"
PER_EXPERIMENT_FIGURES = ("samples", "intermediate", "inpainting")


def figure_experiments(config: dict, kind: str) -> list[str]:
    """Experiments a figure kind covers: its `experiments` list, else all of them."""
    block = config.get("figures", {}).get(kind)
    if block is None:
        return []
    return block.get("experiments") or experiment_names(config)


def experiment_figure(name: str, kind: str) -> str:
    return f"{FIGURES}/{experiment(config, name)['dataset']}/{name}/{kind}.png"


# Images the inpainting figure occludes, by data set source, where the official code differs from
# the [Re] report's training images (Fig. 7): the official code inpaints CelebA test images.
INPAINTING_SPLIT_BY_SOURCE = {"celeba": "test"}


def inpainting_split(config: dict, dataset: str) -> str:
    """train or test: figures.inpainting.split, or with `auto` the data set's default (train but CelebA)."""
    split = config.get("figures", {}).get("inpainting", {}).get("split", "auto")
    if split != "auto":
        return split
    return INPAINTING_SPLIT_BY_SOURCE.get(
        config["datasets"][dataset]["source"], "train"
    )


def neighbours_dir(dataset: str, name: str) -> str:
    return f"{RESULTS}/neighbours/{dataset}/{name}"


def sweep_cells(config: dict) -> list[tuple[str, int]]:
    """(eps as written in paths, T) of every cell of the eps x T sweep."""
    return (
        ncsn.sweep.cells(config["figures"]["sweep"])
        if "sweep" in config["figures"]
        else []
    )


def sweep_experiment(config: dict) -> str | None:
    return config.get("figures", {}).get("sweep", {}).get("experiment")


def sweep_cell_dir(dataset: str, name: str, eps, T) -> str:
    return f"{SWEEP}/{dataset}/{name}/eps{eps}_T{T}"


def sweep_reuse_files(name: str, eps: str, T: str) -> list[str]:
    """The selection scores a sweep cell may copy (`ncsn score --reuse`): the experiment's, when
    the cell repeats the draw of its chosen checkpoint's score; none for the other cells.
    """
    exp = experiment(config, name)
    cell = ncsn.sweep.cell_sampling(exp["sampling"], eps, T)
    samples = config["figures"]["sweep"]["num_samples"]
    if not ncsn.settings.reuses_selection_score(exp, cell, samples):
        return []
    return score_files(config, name)


def fid_table_experiments(config: dict) -> list[str]:
    """Trained experiments selected by FID (of all checkpoints or the loss_topk ones):
    only they have FIDs per checkpoint ([Re] Fig. 13)."""
    trained = set(trained_experiments(config))
    return [
        x
        for x in figure_experiments(config, "fid_vs_checkpoint")
        if x in trained
        and experiment(config, x)["selection"]["criterion"] in ("fid", "loss_topk")
    ]


def loss_experiments(config: dict) -> list[str]:
    """Experiments of the training-loss figure: those of its block that train."""
    trained = set(trained_experiments(config))
    return [x for x in figure_experiments(config, "loss") if x in trained]


def figures_targets(config: dict) -> list[str]:
    targets = [
        experiment_figure(x, kind)
        for kind in PER_EXPERIMENT_FIGURES
        for x in figure_experiments(config, kind)
    ]
    if loss_experiments(config):
        targets += [f"{FIGURES}/loss.png", f"{FIGURES}/loss.pdf"]
    if fid_table_experiments(config):
        targets += [
            f"{FIGURES}/fid_vs_checkpoint.png",
            f"{FIGURES}/fid_vs_checkpoint.pdf",
        ]
    name = sweep_experiment(config)
    if name is not None and sweep_cells(config):
        d = f"{FIGURES}/{experiment(config, name)['dataset']}/{name}"
        targets += [
            f"{d}/sweep.png",
            f"{d}/sweep.pdf",
            f"{d}/sweep.csv",
            f"{d}/sweep_samples.png",
        ]
    return targets


def neighbours_targets(config: dict) -> list[str]:
    return [
        f"{neighbours_dir(experiment(config, x)['dataset'], x)}/{space}.png"
        for x in figure_experiments(config, "neighbours")
        for space in ("pixel", "feature")
    ]


# ---------------------------------------------------------------- report

REPORT = f"{RESULTS}/report"


TIMING = f"{RESULTS}/timing"


def timed_sampling(config: dict) -> list[tuple[str, int]]:
    """(experiment, image count) of the timed sampling jobs ([Re] Table 1), from report.sample_timing."""
    return ncsn.settings.sample_timing_jobs(config)


def timed_sample_benchmark(dataset: str, exp: str, images) -> str:
    return f"{BENCH}/sample_timing/{dataset}/{exp}/n{images}.tsv"


def report_targets(config: dict) -> list[str]:
    return [
        f"{REPORT}/{table}.{ext}"
        for table in ("results", "seeds", "comparisons", "timing")
        for ext in ("md", "csv", "tex")
    ] + [f"{REPORT}/fid_by_seed.{ext}" for ext in ("png", "pdf")]


def report_inputs(wildcards) -> dict:
    """Metrics and selection of every experiment; training benchmarks of those that train."""
    names = experiment_names(config)
    return {
        "metrics": [metrics_file(experiment(config, x)["dataset"], x) for x in names],
        "selection": [
            selection_files(experiment(config, x)["dataset"], x)["selection"]
            for x in names
        ],
        "train_benchmark": [
            train_benchmark(experiment(config, x)["dataset"], x)
            for x in trained_experiments(config)
        ],
        "sample_benchmark": [b for x in names for b in sample_benchmarks(config, x)],
        "prepare_benchmark": sorted(
            {prepare_benchmark(experiment(config, x)["dataset"]) for x in names}
        ),
        "timed_sample_benchmark": [
            timed_sample_benchmark(experiment(config, x)["dataset"], x, n)
            for x, n in timed_sampling(config)
        ],
    }


def report_arguments(wildcards, input) -> str:
    """`--metrics NAME=PATH ...` for every experiment and input kind (paths in experiment order)."""
    names = experiment_names(config)
    named = {
        "metrics": names,
        "selection": names,
        "train_benchmark": trained_experiments(config),
    }
    args = []
    for key, keys_names in named.items():
        option = f"--{key.replace('_', '-')}"
        args += [
            f"{option} {name}={path}" for name, path in zip(keys_names, input[key])
        ]
    for name in names:
        dataset = experiment(config, name)["dataset"]
        args += [
            f"--sample-benchmark {name}={path}"
            for path in sample_benchmarks(config, name)
        ]
        args.append(f"--prepare-benchmark {name}={prepare_benchmark(dataset)}")
    args += [
        f"--timed-sample-benchmark {x}:{n}="
        + timed_sample_benchmark(experiment(config, x)["dataset"], x, n)
        for x, n in timed_sampling(config)
    ]
    return " ".join(args)
