"""Cross-field checks: what a schema cannot say (references between blocks, level order, shard
counts, keys of another source or extractor kind), each a function ``*_problems(block, where)``
that lists messages and raises nothing. They run on filled blocks, before any job starts."""

from __future__ import annotations

import math
from typing import Any

from ncsn.settings.schema import definition, extractor_kind, kind_keys, source_keys


def schedule_problems(spec: dict[str, Any], where: str) -> list[str]:
    """Level count and order of a filled schedule block (``make_sigmas`` trusts a block checked here)."""
    kind, levels = spec["kind"], spec["num_levels"]
    if kind == "single":
        return (
            []
            if levels == 1
            else [
                f"{where}.num_levels is {levels} but kind single has one level (sigma_end); set num_levels: 1 or leave it out"
            ]
        )
    problems = []
    if levels < 2:
        problems.append(
            f"{where}.num_levels is {levels}; kind {kind} needs at least 2 levels (use kind single for one)"
        )
    if not spec["sigma_begin"] > spec["sigma_end"]:
        problems.append(
            f"{where}.sigma_begin ({spec['sigma_begin']}) must exceed {where}.sigma_end ({spec['sigma_end']}); "
            "levels run from the largest noise to the smallest"
        )
    return problems


def sampling_problems(spec: dict[str, Any], where: str) -> list[str]:
    """Combinations of a filled sampling block that the sampler would reject."""
    if spec["method"] == "langevin" and spec["denoise"]:
        return [f"{where}.denoise applies to annealed Langevin only; set it to false for method langevin"]
    return []


def gmm_problems(spec: dict[str, Any], where: str) -> list[str]:
    """One weight per mean, and every mean a 2-D point (the toy figures are planar)."""
    problems = []
    if len(spec["weights"]) != len(spec["means"]):
        problems.append(
            f"{where}: {len(spec['weights'])} weights but {len(spec['means'])} means; give one weight per mean"
        )
    if any(len(mean) != 2 for mean in spec["means"]):
        problems.append(f"{where}.means: every mean must be a 2-D point [x, y]")
    return problems


def dataset_problems(ds: dict[str, Any], where: str) -> list[str]:
    """Keys the data set's source does not read, and the `root` the file-reading sources need."""
    problems = dataset_key_problems(ds, where)
    if ds["source"] in definition("dataset")["properties"]["root"]["x-sources"] and "root" not in ds:
        problems.append(f"{where}.root: source {ds['source']} reads its files from `root`; set it to their folder")
    return problems


# block name -> its cross-field check, run by check_block, check_envelope (on the blocks an envelope
# carries) and the whole-config check
BLOCK_CHECKS = {
    "schedule": schedule_problems,
    "sampling": sampling_problems,
    "toy_gmm": gmm_problems,
    "dataset": dataset_problems,
}


def _reference(config: dict[str, Any], where: str, name: str, table: str) -> list[str]:
    if name in config[table]:
        return []
    return [f"{where}: '{name}' is not a key of '{table}' (known: {', '.join(sorted(config[table]))})"]


def experiment_problems(config: dict[str, Any], name: str) -> list[str]:
    """Cross-field problems of one filled experiment block."""
    exp, where = config["experiments"][name], f"experiments.{name}"
    problems = _reference(config, f"{where}.dataset", exp["dataset"], "datasets")
    problems += _reference(config, f"{where}.extractor", exp["extractor"], "extractors")
    problems += schedule_problems(exp["schedule"], f"{where}.schedule")
    training, sampling, evaluation = exp["training"], exp["sampling"], exp["evaluation"]
    given = exp.get("checkpoint")
    if given is None and training["snapshot_freq"] > training["iterations"]:
        problems.append(
            f"{where}.training.snapshot_freq ({training['snapshot_freq']}) exceeds training.iterations ({training['iterations']})"
        )
    if given is not None and given["format"] == "official":
        official = given.get("official_dataset") or config["datasets"].get(exp["dataset"], {}).get("source")
        if official not in ("cifar10", "celeba", "mnist"):
            problems.append(
                f"{where}.checkpoint.official_dataset: the official NCSN configs are cifar10, celeba and mnist, "
                f"got '{official}'; set it to the one that trained the checkpoint"
            )
    problems += sampling_problems(sampling, f"{where}.sampling")
    if sampling["use_ema"] is True and not training["ema"]:
        problems.append(
            f"{where}.sampling.use_ema is true but training.ema is false: the checkpoints hold no EMA weights"
        )
    blocks = -(-evaluation["num_samples"] // sampling["batch_size"])
    if evaluation["shards"] > blocks:
        problems.append(
            f"{where}.evaluation.shards ({evaluation['shards']}) exceeds the {blocks} sampling batch(es) of "
            f"{sampling['batch_size']} that evaluation.num_samples ({evaluation['num_samples']}) makes; "
            f"use at most {blocks} shards or a smaller sampling.batch_size"
        )
    if evaluation["is_splits"] > evaluation["num_samples"]:
        problems.append(
            f"{where}.evaluation.is_splits ({evaluation['is_splits']}) exceeds evaluation.num_samples ({evaluation['num_samples']})"
        )
    extractor, dataset = config["extractors"].get(exp["extractor"]), config["datasets"].get(exp["dataset"])
    if extractor and dataset and extractor["kind"] == "classifier":
        trained_on = config["datasets"].get(extractor["dataset"])
        if trained_on is not None and image_geometry(trained_on) != image_geometry(dataset):
            problems.append(
                f"{where}: extractor '{exp['extractor']}' is a classifier trained on data set '{extractor['dataset']}' "
                f"({describe_geometry(trained_on)}) and reads only images of that size, but data set '{exp['dataset']}' is "
                f"{describe_geometry(dataset)}; give this experiment a classifier trained on its own data set, or inception"
            )
    size = (dataset or {}).get("image_size")
    if exp["model"]["arch"] in ("refinenet", "refinenet_re") and size is not None and size % 2:
        problems.append(
            f"{where}.model: refinenet halves the resolution once and needs an even image size, but datasets.{exp['dataset']}.image_size is {size}"
        )
    return problems


# A source's native image size, where it has one (folder: whatever its files are).
NATIVE_SIZE = {"digits": 8, "mnist": 28, "cifar10": 32, "celeba": 32}


def image_geometry(dataset: dict[str, Any]) -> tuple[Any, Any]:
    """(side length or ``source:NAME`` when only the files know it, channels) of a filled data set block."""
    size = dataset.get("image_size") or NATIVE_SIZE.get(dataset["source"])
    return (size if size is not None else f"source:{dataset['source']}:{dataset.get('root')}", dataset["channels"])


def describe_geometry(dataset: dict[str, Any]) -> str:
    size, channels = image_geometry(dataset)
    side = f"{size}x{size}" if isinstance(size, int) else "as its files"
    return f"{side}x{channels}"


def extractor_problems(ext: dict[str, Any], where: str) -> list[str]:
    """Keys written for the other kind of extractor, and the weights path inception needs (on the user's block)."""
    other = "inception" if extractor_kind(ext["kind"]) == "classifier" else "classifier"
    problems = [
        f"{where}.{key}: applies to kind {other} only; remove it" for key in sorted(kind_keys(other)) if key in ext
    ]
    if ext["kind"] == "inception" and "weights" not in ext:
        problems.append(f"{where}.weights: kind inception needs the path of weights-inception-2015-12-05-6726825d.pth")
    return problems


def dataset_key_problems(ds: dict[str, Any], where: str) -> list[str]:
    """Keys written for a source that does not read them."""
    allowed = source_keys(ds["source"])
    return [
        f"{where}.{key}: source {ds['source']} does not use it (only {', '.join(definition('dataset')['properties'][key]['x-sources'])}); remove it"
        for key in ds
        if key not in allowed
    ]


def config_cross_problems(config: dict[str, Any]) -> list[str]:
    """Every cross-field problem of a filled config (references between blocks, level order, shards...)."""
    problems = []
    for name, ds in config["datasets"].items():
        problems += dataset_problems(ds, f"datasets.{name}")
    used = {exp["extractor"] for exp in config["experiments"].values()}
    for name in sorted(used & set(config["extractors"])):
        ext = config["extractors"][name]
        if ext["kind"] == "classifier":
            problems += _reference(config, f"extractors.{name}.dataset", ext["dataset"], "datasets")
    for name in config["experiments"]:
        problems += experiment_problems(config, name)
    toy = config.get("toy", {})
    ssm = toy.get("ssm_noise")
    if ssm and ssm["enabled"]:
        problems += _reference(config, "toy.ssm_noise.dataset", ssm["dataset"], "datasets")
    if "gmm" in toy:
        problems += gmm_problems(toy["gmm"], "toy.gmm")
    modes = toy.get("langevin_modes")
    if modes:
        for label, spec in modes["schedules"].items():
            problems += schedule_problems(spec, f"toy.langevin_modes.schedules.{label}")
    figures = config.get("figures", {})
    for kind, block in figures.items():
        unknown = sorted(set(block.get("experiments") or []) - set(config["experiments"]))
        if unknown:
            problems.append(
                f"figures.{kind}.experiments: unknown experiment(s) {', '.join(unknown)} (known: {', '.join(config['experiments'])})"
            )
    sweep = figures.get("sweep", {}).get("experiment")
    if sweep is not None:
        problems += _reference(config, "figures.sweep.experiment", sweep, "experiments")
        problems += sweep_problems(figures["sweep"], config["experiments"].get(sweep))
    eps_sweep = toy.get("eps_sweep")
    if eps_sweep:
        problems += schedule_problems(eps_sweep["schedule"], "toy.eps_sweep.schedule")
    timed = (config.get("report", {}).get("sample_timing") or {}).get("experiments") or []
    for name in timed:
        problems += _reference(config, "report.sample_timing.experiments", name, "experiments")
    return problems


def sweep_problems(sweep: dict[str, Any], exp: dict[str, Any] | None) -> list[str]:
    """The eps x T sweep ([Re] Fig. 8) must hold the cell its experiment samples with."""
    if exp is None:
        return []  # an unknown experiment, reported by the reference check
    problems = []
    for key in ("eps", "n_steps_each"):
        grid = sweep.get(key, [])
        if not any(math.isclose(v, exp["sampling"][key], rel_tol=1e-9) for v in grid):
            problems.append(
                f"figures.sweep.{key} {grid} lacks {exp['sampling'][key]:g}, the "
                f"experiments.{sweep['experiment']}.sampling.{key} the experiment samples with; add it "
                "so the sweep contains the setting the results table reports"
            )
    return problems
