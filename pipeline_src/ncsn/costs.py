"""The cost of one workflow job, per rule: a registry of functions of the job's wildcards and the filled
config (``CostModel``) giving its counted GPU work, disk, assumed minutes and memory kind.

``ncsn.estimate`` applies them to the jobs Snakemake plans for a config (``ncsn.workflow_plan``), and
the workflow's cluster runtimes (``workflow/rules/cluster.smk``) to each submitted job. A rule without
a function costs nothing and is listed as not costed; each rule's cost class (counted here, minutes assumed,
or negligible) is its row of :mod:`ncsn.steps`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ncsn.settings import (
    chain_steps,
    is_trained,
    published_iterations,
    reuses_selection_score,
    scored_count,
    shard_blocks,
)
from ncsn.steps import RULES
from ncsn.workload import (
    BYTES_PER_FLOAT,
    INCEPTION_GFLOP,
    dataset_shape,
    network_flops,
)


@dataclass(frozen=True)
class JobCost:
    """What one job costs: ``flop`` of GPU work (counted), ``disk_bytes`` it leaves, ``minutes`` assumed
    for work the count does not model, the ``memory`` kind of its experiment it peaks at (train, sample,
    heldout; None: not modelled), a ``note`` (text, or text from the sustained FLOP/s), and ``adds``:
    jobs a checkpoint rule adds once it has run, which Snakemake cannot plan before (rule, wildcards)."""

    flop: float = 0.0
    disk_bytes: float = 0.0
    minutes: float = 0.0
    memory: str | None = None
    note: str | Callable[[float], str] = ""
    adds: tuple[tuple[str, dict[str, str]], ...] = ()

    def describe(self, sustained_flops: float) -> str:
        return self.note(sustained_flops) if callable(self.note) else self.note


@dataclass
class Experiment:
    """The facts of one experiment its jobs' costs need: its network at its data's shape."""

    block: dict[str, Any]  # its filled block of the config
    spec: dict[str, Any]
    forward: float  # FLOPs per sample of one network evaluation
    train_step: float  # forward + backward FLOPs per sample
    params: int
    num_levels: int
    steps: int  # network evaluations per sample of its sampler
    feature: float  # FLOPs per image of its extractor (Inception), 0 for a small one
    image_bytes: int
    checkpoints: int = 0  # published checkpoints (0 for a given checkpoint)


CostFunction = Callable[["CostModel", Mapping[str, str]], JobCost]
COSTS: dict[str, CostFunction] = {}


def cost_of(rule: str) -> Callable[[CostFunction], CostFunction]:
    """Registers the decorated function as the cost of a job of ``rule``."""

    def register(function: CostFunction) -> CostFunction:
        COSTS[rule] = function
        return function

    return register


class CostModel:
    """A filled config's cost functions, with the network and data-set facts they share computed once."""

    def __init__(self, config: dict[str, Any], data_root: Path = Path("results/data")) -> None:
        self.config = config
        self.data_root = data_root

    def job(self, rule: str, wildcards: Mapping[str, str]) -> JobCost | None:
        """The cost of one job of ``rule``; None when the rule has no cost function."""
        function = COSTS.get(rule)
        return None if function is None else function(self, wildcards)

    def jobs(
        self, planned: Iterable[tuple[str, Mapping[str, str]]]
    ) -> list[tuple[str, dict[str, str], JobCost | None]]:
        """(rule, wildcards, cost) of the planned jobs and of the jobs their checkpoints add."""
        result = []
        for rule, wildcards in planned:
            cost = self.job(rule, wildcards)
            result.append((rule, dict(wildcards), cost))
            for added_rule, added in cost.adds if cost else ():
                result.append((added_rule, added, self.job(added_rule, added)))
        return result

    @functools.cache
    def shape(self, dataset: str) -> tuple[int, int, int, int]:
        """(image size, channels, train images, test images) of a data set."""
        return dataset_shape(dataset, self.config["datasets"][dataset], self.data_root)

    def feature_flop(self, extractor: str) -> float:
        """FLOPs per image of an extractor's features: Inception's; a small classifier's count as 0."""
        return INCEPTION_GFLOP * 1e9 if self.config["extractors"][extractor]["kind"] == "inception" else 0.0

    @functools.cache
    def experiment(self, name: str) -> Experiment:
        """An experiment's network at its data's shape: FLOPs, parameters, sampler steps, image bytes."""
        from ncsn.schedules import make_sigmas

        exp = self.config["experiments"][name]
        size, channels, _, _ = self.shape(exp["dataset"])
        num_levels = make_sigmas(exp["schedule"]).numel()
        spec = {**exp["model"], "channels": channels, "image_size": size, "num_classes": num_levels}
        forward, train_step, params = network_flops(spec)
        return Experiment(
            exp,
            spec,
            forward,
            train_step,
            params,
            num_levels,
            chain_steps(exp["sampling"], num_levels),
            self.feature_flop(exp["extractor"]),
            size * size * channels,
            # a given checkpoint (`checkpoint:` block) is neither trained nor selected
            len(published_iterations(exp["training"])) if is_trained(exp) else 0,
        )


for _rule in RULES.values():  # the rules whose work is not counted: minutes assumed, or seconds of CPU
    if _rule.cost == "assumed":
        cost_of(_rule.name)(
            lambda model, wildcards, minutes=_rule.minutes: JobCost(minutes=minutes, note=f"{minutes} min, assumed")
        )
    elif _rule.cost == "negligible":
        cost_of(_rule.name)(lambda model, wildcards: JobCost())


@cost_of("prepare")
def _prepare(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    size, channels, n_train, n_test = model.shape(wildcards["dataset"])
    return JobCost(disk_bytes=(n_train + n_test) * size * size * channels, note="data set, uint8")


@cost_of("train")
def _train(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    e = model.experiment(wildcards["experiment"])
    training = e.block["training"]
    batch = training["batch_size"]
    weights = e.params * BYTES_PER_FLOAT * (2 if training.get("ema") else 1)
    return JobCost(
        training["iterations"] * batch * e.train_step,
        e.checkpoints * weights + 2 * e.params * BYTES_PER_FLOAT,
        memory="train",
        note=lambda sustained: (
            f"{sustained / (batch * e.train_step):.2f} it/s at batch {batch}; {e.params / 1e6:.1f} M parameters, "
            f"{e.train_step / 1e9:.1f} GFLOP per sample and step; {e.checkpoints} checkpoints, Adam's moments "
            "in the newest only"
        ),
    )


@cost_of("ref_stats")
def _ref_stats(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    _, _, n_train, _ = model.shape(wildcards["dataset"])
    return JobCost(
        2 * n_train * model.feature_flop(wildcards["extractor"]), note="torch-fidelity and clean-fid features"
    )


@cost_of("heldout_loss")
def _heldout_loss(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    e = model.experiment(wildcards["experiment"])
    images = e.block["selection"]["heldout"]["num_images"]
    return JobCost(
        e.num_levels * images * e.forward, memory="heldout", note=f"{e.num_levels} levels x {images} test images"
    )


def feature_passes(block: Mapping[str, Any]) -> int:
    """Inception passes per image of a score (``selection``) or evaluation (``evaluation``) block:
    torch-fidelity's, and clean-fid's where the block asks for its FID too."""
    return 2 if block["cleanfid"] else 1


@cost_of("score")
def _score(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    e = model.experiment(wildcards["experiment"])
    m = e.block["selection"]["num_samples"]
    return JobCost(
        m * (e.steps * e.forward + feature_passes(e.block["selection"]) * e.feature),
        m * e.image_bytes,
        memory="sample",
        note=f"{m} samples x {e.steps} steps and their FID (samples kept)",
    )


@cost_of("rank_checkpoints")
def _rank_checkpoints(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    """Seconds itself; the score jobs of the k candidates it picks follow once it has run."""
    e = model.experiment(wildcards["experiment"])
    scored = scored_count(e.block["selection"], e.checkpoints)
    candidate = {**wildcards, "iteration": "candidate"}
    return JobCost(note=f"adds {scored} score jobs", adds=tuple(("score", dict(candidate)) for _ in range(scored)))


@cost_of("sample")
def _sample(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:

    e = model.experiment(wildcards["experiment"])
    total, batch = e.block["evaluation"]["num_samples"], e.block["sampling"]["batch_size"]
    count = sum(end - start for _, start, end in shard_blocks(total, batch, int(wildcards["k"]), int(wildcards["K"])))
    return JobCost(
        count * e.steps * e.forward,
        count * e.image_bytes,
        memory="sample",
        note=lambda sustained: (
            f"{count} samples x {e.steps} steps; {1000 * e.steps * e.forward / sustained:.0f} s per 1000"
        ),
    )


@cost_of("evaluate")
def _evaluate(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    e = model.experiment(wildcards["experiment"])
    evaluation = e.block["evaluation"]
    passes = feature_passes(evaluation)
    return JobCost(
        passes * evaluation["num_samples"] * e.feature,
        note="IS and FID, torch-fidelity and clean-fid" if passes == 2 else "IS and FID, torch-fidelity",
    )


@cost_of("sweep_cell")
def _sweep_cell(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    """One eps x T cell; the cell at the experiment's own eps and T copies the chosen checkpoint's
    selection score when the sample counts agree (``ncsn score --reuse``)."""
    from ncsn.sweep import cell_sampling

    e = model.experiment(wildcards["experiment"])
    sampling = cell_sampling(e.block["sampling"], wildcards["eps"], wildcards["T"])
    steps = chain_steps(sampling, e.num_levels)
    m = model.config["figures"]["sweep"]["num_samples"]
    reused = reuses_selection_score(e.block, sampling, m)
    return JobCost(
        0.0 if reused else m * (steps * e.forward + feature_passes(e.block["selection"]) * e.feature),
        m * e.image_bytes,
        memory="sample",
        note=f"eps {wildcards['eps']}, T {wildcards['T']}: "
        + ("reuses the selection score" if reused else f"{m} samples x {steps} steps"),
    )


@cost_of("sample_timing")
def _sample_timing(model: CostModel, wildcards: Mapping[str, str]) -> JobCost:
    e = model.experiment(wildcards["experiment"])
    images = int(wildcards["images"])
    return JobCost(
        images * e.steps * e.forward,
        images * e.image_bytes,
        memory="sample",
        note=f"[Re] Table 1's timed sampling of {images} images",
    )
