"""What a config will cost before it runs: GPU-hours, disk and peak GPU memory of the jobs the
workflow plans for it (``ncsn.workflow_plan``), each costed by its rule's function (``ncsn.costs``).

FLOPs are counted on the real score networks at the real shape (``FlopCounterMode`` on the
meta device: nothing is computed, nothing allocated); time is FLOPs divided by a GPU's peak
throughput times an efficiency factor. The fp32 factor is calibrated on the [Re] report's V100
timings (Table 1: 1.73 it/s training CIFAR-10, 1398 s per 1000 CIFAR-10 samples); the factor
for tensor-core precisions (tf32, bf16) is an assumption, to be replaced by the figures of
``python -m benchmarks gpu``. A card runs a tf32 or bf16 config on whichever of its two paths is
faster (cuDNN picks tensor-core or CUDA-core kernels): on a GeForce card, whose TF32 peak equals
its fp32 peak, that is the fp32 path.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ncsn.costs import CostModel, JobCost
from ncsn.errors import NcsnError
from ncsn.workload import BYTES_PER_FLOAT, INCEPTION_GFLOP, activation_bytes, network_flops

# Dense peak throughput in TFLOP/s (vendor data sheets: SXM parts, P100 PCIe; GeForce cards'
# bf16/tf32 with fp32 accumulation, as torch computes). None: no such mode. Assumed, not measured.
GPU_PEAK_TFLOPS: dict[str, dict[str, float | None]] = {
    "p100": {"fp32": 9.3, "tf32": None, "bf16": None},
    "v100": {"fp32": 15.7, "tf32": None, "bf16": None},
    "rtx3090": {"fp32": 35.6, "tf32": 35.6, "bf16": 71.0},
    "rtx4090": {"fp32": 82.6, "tf32": 82.6, "bf16": 165.2},
    "a6000": {"fp32": 38.7, "tf32": 77.4, "bf16": 154.8},
    "a100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0},
    "l40s": {"fp32": 91.6, "tf32": 183.0, "bf16": 362.0},
    "h100": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
    "h200": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
}
# Memory in GiB (data sheets; the smaller part where there are two: V100 16 of 16/32, A100 40 of 40/80).
GPU_MEMORY_GIB: dict[str, float] = {
    "p100": 16,
    "v100": 16,
    "rtx3090": 24,
    "rtx4090": 24,
    "a6000": 48,
    "a100": 40,
    "l40s": 48,
    "h100": 80,
    "h200": 141,
}
# Memory outside torch's allocator (CUDA context, cuDNN workspaces): assumed.
CONTEXT_GIB = 0.75
# Inception-v3 features (FID/IS) at 299x299: weights and activations of a feature batch, assumed.
INCEPTION_GIB = 2.0
# [Re] Table 1 on a V100, CIFAR-10 RefineNet ngf 128, batch 128: 1.73 it/s training and 1398 s
# per 1000 samples need 84% and 90% of the fp32 peak (counted FLOPs; cuDNN's Winograd 3x3
# convolutions do fewer multiplications than counted, hence so high). One factor for both: their
# geometric mean. The same factor overestimates the [Re] P100 MNIST figures' speed about 2x.
FP32_EFFICIENCY = 0.87
# Tensor cores rarely approach their peak on 32x32 convolutions with 128-256 channels: assumed.
TENSOR_CORE_EFFICIENCY = 0.25
PRECISIONS = ("fp32", "tf32", "bf16")
# Minutes every job spends outside the counted work: start-up, imports, loading data and weights.
STARTUP_MINUTES = 5
# The kinds of job whose peak GPU memory is modelled, in the order they are listed.
MEMORY_KINDS = ("train", "sample", "heldout")


@dataclass
class Row:
    """The jobs of one rule for one experiment or data set (``key``): their summed cost and the largest."""

    key: str
    rule: str
    jobs: int = 0
    flop: float = 0.0
    disk_bytes: float = 0.0
    minutes: float = 0.0
    largest: JobCost = field(default_factory=JobCost)
    notes: set[str] = field(default_factory=set)

    def add(self, cost: JobCost, sustained_flops: float) -> None:
        self.jobs += 1
        self.flop += cost.flop
        self.disk_bytes += cost.disk_bytes
        self.minutes += cost.minutes
        self.notes.add(cost.describe(sustained_flops))
        if (cost.flop, cost.minutes) > (self.largest.flop, self.largest.minutes) or self.jobs == 1:
            self.largest = cost

    def note(self, sustained_flops: float) -> str:
        text = self.largest.describe(sustained_flops)
        if self.jobs == 1:
            return text
        return f"{self.jobs} jobs, " + ("each: " if len(self.notes) == 1 else "the largest: ") + text


@dataclass
class Memory:
    """Peak GPU memory of one job kind of one experiment: computed by the model below, or measured
    by ``python -m benchmarks gpu`` at the same network and batch (``source``)."""

    experiment: str
    kind: str
    gib: float
    source: str
    note: str = ""


@dataclass
class Speed:
    """A GPU's sustained speed for a config trained in ``precision``: the peak of the ``path`` it runs
    on (``fp32``: CUDA cores; the precision itself: tensor cores) times an efficiency (assumed, or
    measured: ``source``)."""

    gpu: str
    precision: str
    path: str
    efficiency: float
    source: str = ""

    @property
    def peak_tflops(self) -> float:
        return GPU_PEAK_TFLOPS[self.gpu][self.path]

    @property
    def sustained_flops(self) -> float:
        return self.peak_tflops * 1e12 * self.efficiency

    def describe(self) -> str:
        """``fp32 path (peak 35.6 TFLOP/s x efficiency 0.87 = 31.0 TFLOP/s sustained)``."""
        return (
            f"{self.path} path (peak {self.peak_tflops:g} TFLOP/s x efficiency {self.efficiency:g} "
            f"= {self.sustained_flops / 1e12:.1f} TFLOP/s sustained)"
        )

    def minutes(self, cost: JobCost) -> float:
        """Wall minutes of a job's work, start-up not included: its counted FLOPs at this speed plus its assumed minutes."""
        return cost.flop / self.sustained_flops / 60 + cost.minutes


@dataclass
class Estimate:
    speed: Speed
    rows: list[Row] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    not_costed: dict[str, int] = field(default_factory=dict)  # rule -> planned jobs without a cost function
    jobs: int = 0

    @property
    def gpu(self) -> str:
        return self.speed.gpu

    @property
    def precision(self) -> str:
        return self.speed.precision

    @property
    def efficiency(self) -> float:
        return self.speed.efficiency

    @property
    def sustained_flops(self) -> float:
        return self.speed.sustained_flops

    def hours(self, row: Row) -> float:
        return row.flop / self.sustained_flops / 3600

    def row(self, key: str, rule: str) -> Row:
        return next(r for r in self.rows if r.key == key and r.rule == rule)


def default_precision(gpu: str, amp: bool) -> str:
    """bf16 when training uses autocast, else tf32 where the GPU has it (torch's default for
    convolutions, ``torch.backends.cudnn.allow_tf32``), else fp32."""
    if amp and GPU_PEAK_TFLOPS[gpu]["bf16"]:
        return "bf16"
    return "tf32" if GPU_PEAK_TFLOPS[gpu]["tf32"] else "fp32"


def paths(gpu: str, precision: str) -> list[Speed]:
    """The ways ``gpu`` can run a config trained in ``precision``, at the table's efficiencies: its fp32
    path (CUDA cores), and for tf32 or bf16 its tensor-core path too. cuDNN picks the faster kernels,
    so the faster path is the card's speed: an RTX 3090's TF32 tensor-core peak equals its fp32 peak,
    of which tensor cores reach the smaller share."""
    speeds = [Speed(gpu, precision, "fp32", FP32_EFFICIENCY)]
    if precision != "fp32":
        speeds.append(Speed(gpu, precision, precision, TENSOR_CORE_EFFICIENCY))
    return speeds


def measured_peaks(path: Path = Path("benchmarks/results/gpu.json")) -> dict[tuple[str, int, int], float]:
    """(kind, ngf, batch) -> peak MiB of the fp32 cases ``python -m benchmarks gpu`` measured at the
    paper's CIFAR-10 shape (32x32x3, 10 levels), from its result file when it exists."""

    if not path.is_file():
        return {}
    record = json.loads(path.read_text())
    if record.get("machine", {}).get("device") == "cpu":
        return {}
    peaks = {}
    for kind in ("train", "sampling"):
        for row in record.get(kind, []):
            plain = not row.get("channels_last") and not row.get("compile")
            if row.get("precision") == "fp32" and plain and row.get("peak_mib"):
                peaks[(kind, int(row["ngf"]), int(row["batch"]))] = float(row["peak_mib"])
    return peaks


def card_key(device_name: str) -> str | None:
    """The GPU table's key of a CUDA device name (``NVIDIA GeForce RTX 4090`` -> ``rtx4090``), else None."""
    name = "".join(device_name.lower().replace("nvidia", "").replace("geforce", "").split()).replace("-", "")
    return next((key for key in GPU_PEAK_TFLOPS if key in name), None)


def measured_efficiency(gpu: str, precision: str, path: Path) -> tuple[float, str] | None:
    """(efficiency, device) from the training speed ``python -m benchmarks gpu`` measured in ``precision``
    on this very card (ngf 128 at 32x32x3, plain layout), when its result file says so; else None."""

    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    device = record.get("machine", {}).get("device", "")
    if card_key(device) != gpu:
        return None
    for row in record.get("train", []):
        if row.get("precision") == precision and not row.get("channels_last") and not row.get("compile"):
            spec = {"arch": "refinenet", "ngf": row["ngf"], "channels": 3, "image_size": 32, "num_classes": 10}
            flops = row["it_per_s"] * row["batch"] * network_flops(spec)[1]
            return flops / (GPU_PEAK_TFLOPS[gpu][precision] * 1e12), device
    return None


def gpu_speed(
    config: dict[str, Any], gpu: str, precision: str | None = None, gpu_json: Path = Path("benchmarks/results/gpu.json")
) -> Speed:
    """The sustained speed of ``gpu`` for a config: its precision (by default bf16 when training uses
    autocast, else tf32 where the card has it, else fp32), run as measured on this card when
    ``gpu_json`` says so, else on the faster of the card's paths at the table's efficiencies (``paths``)."""
    gpu = gpu.lower()
    if gpu not in GPU_PEAK_TFLOPS:
        raise NcsnError(f"unknown GPU {gpu!r}; known: {', '.join(GPU_PEAK_TFLOPS)}")
    if precision is None:
        precision = default_precision(gpu, any(e["training"].get("amp") for e in config["experiments"].values()))
    if precision not in PRECISIONS or not GPU_PEAK_TFLOPS[gpu][precision]:
        have = [p for p in PRECISIONS if GPU_PEAK_TFLOPS[gpu][p]]
        raise NcsnError(f"{gpu} has no {precision} throughput in the table; use --precision {' or '.join(have)}")
    calibrated = measured_efficiency(gpu, precision, gpu_json)
    if calibrated:
        measured, device = calibrated
        return Speed(gpu, precision, precision, measured, f"measured on {device} (training it/s, {gpu_json})")
    return max(paths(gpu, precision), key=lambda speed: speed.sustained_flops)


def row_key(wildcards: Mapping[str, str]) -> str:
    """What a job's row is about: its experiment, else its data set, else its extractor, else the whole run."""
    return wildcards.get("experiment") or wildcards.get("dataset") or wildcards.get("extractor") or "-"


def estimate(
    config: dict[str, Any],
    gpu: str,
    jobs: Iterable[tuple[str, Mapping[str, str]]],
    precision: str | None = None,
    data_root: Path = Path("results/data"),
    gpu_json: Path = Path("benchmarks/results/gpu.json"),
    memory: bool = True,
) -> Estimate:
    """GPU work, disk and (``memory``) peak GPU memory of the planned ``jobs`` ((rule, wildcards) pairs,
    e.g. ``ncsn.workflow_plan.planned_jobs``) of a filled config on ``gpu``: each job costed by its
    rule's function (``ncsn.costs.COSTS``), summed per rule and experiment or data set."""
    speed = gpu_speed(config, gpu, precision, gpu_json)
    model = CostModel(config, data_root)
    result = Estimate(speed)
    rows: dict[tuple[str, str], Row] = {}
    kinds: dict[str, set[str]] = {}
    for rule, wildcards, cost in model.jobs(jobs):
        result.jobs += 1
        if cost is None:
            result.not_costed[rule] = result.not_costed.get(rule, 0) + 1
            continue
        if cost.memory:
            kinds.setdefault(wildcards["experiment"], set()).add(cost.memory)
        if not cost.flop and not cost.disk_bytes:
            continue  # assumed minutes (the cluster runtimes) or seconds: no GPU-hours, no disk
        key = row_key(wildcards)
        rows.setdefault((key, rule), Row(key, rule)).add(cost, speed.sustained_flops)
    rank = {}
    for name, exp in config["experiments"].items():
        rank.setdefault(exp["dataset"], len(rank))
        rank.setdefault(name, len(rank))
    rule_rank = {rule: i for i, (_, rule) in enumerate(rows)}
    result.rows = sorted(rows.values(), key=lambda r: (rank.get(r.key, len(rank)), r.key, rule_rank[r.rule]))
    if memory:
        measured = measured_peaks(gpu_json)
        for name in config["experiments"]:
            if name in kinds:
                result.memory += job_memory(name, model, [k for k in MEMORY_KINDS if k in kinds[name]], measured)
    return result


def job_memory(name: str, model: CostModel, kinds: list[str], measured: dict) -> list[Memory]:
    """Peak GPU memory of an experiment's job ``kinds`` (fp32): training (weights, gradients, Adam's two
    moments, EMA weights and a step's activations), sampling (weights and a step of the sampler's
    batch; score, sample, sweep and timing jobs), and the held-out loss; plus the CUDA context, and
    Inception's features where the extractor is Inception (evaluate and ref_stats need no more)."""
    gib = 2.0**30
    e = model.experiment(name)
    spec, exp = e.spec, e.block
    weights = e.params * BYTES_PER_FLOAT
    training, sampling, heldout = exp["training"], exp["sampling"], exp["selection"]["heldout"]
    train_batch = training["batch_size"]
    sample_batch = min(sampling["batch_size"], exp["evaluation"]["num_samples"])
    known = {
        "train": (
            "train",
            train_batch,
            weights * (4 + (1 if training.get("ema") else 0)),
            f"batch {train_batch}: weights, gradients, Adam, activations",
        ),
        "sample": ("sampling", sample_batch, weights, f"batch {sample_batch}: weights and one step's activations"),
        "heldout": (None, heldout["batch_size"], weights, f"batch {heldout['batch_size']}"),
    }
    shape_matches = (spec["channels"], spec["image_size"], spec["num_classes"]) == (3, 32, 10)
    memory = []
    for kind in kinds:
        bench_kind, batch, fixed, note = known[kind]
        key = (bench_kind, spec.get("ngf"), batch)
        extra = INCEPTION_GIB if e.feature and kind == "sample" else 0.0
        if shape_matches and spec.get("arch") == "refinenet" and key in measured:
            total = measured[key] / 1024 + CONTEXT_GIB + extra
            memory.append(Memory(name, kind, total, "measured", note + " (benchmarks/results/gpu.json)"))
            continue
        active = activation_bytes(spec, batch, training=kind == "train")
        memory.append(Memory(name, kind, (fixed + active) / gib + CONTEXT_GIB + extra, "computed", note))
    return memory


class JobClock:
    """Minutes of one job on the config's ``cluster.gpu``: its rule's cost at that card's speed (FLOP
    counts computed once per network)."""

    def __init__(self, config: dict[str, Any], data_root: Path = Path("results/data")) -> None:
        self.model = CostModel(config, data_root)
        self.speed = gpu_speed(config, config["cluster"]["gpu"])

    def minutes(self, rule: str, wildcards: Mapping[str, str]) -> float | None:
        """Minutes of the job's work, start-up not included; None when its rule has no cost function."""
        cost = self.model.job(rule, wildcards)
        return None if cost is None else self.speed.minutes(cost)


def runtime_minutes(
    config: dict[str, Any], rule: str, wildcards: Mapping[str, str], clock: JobClock | None, attempt: int = 1
) -> int:
    """Minutes one job of ``rule`` asks a cluster for: ``cluster.runtime``'s figure for the rule, else
    ``cluster.safety`` x the job's cost plus start-up (``cluster.max_runtime`` for a rule without a
    cost function), doubled for each retry (``attempt`` 2, 3, ...: a job that ran out of time gets
    more); never more than ``cluster.max_runtime``. ``clock`` is only read when the rule has no figure."""
    cluster = config["cluster"]
    if rule in cluster["runtime"]:
        needed = float(cluster["runtime"][rule])
    else:
        minutes = clock.minutes(rule, wildcards)
        needed = cluster["max_runtime"] if minutes is None else cluster["safety"] * minutes + STARTUP_MINUTES
    return max(1, min(cluster["max_runtime"], math.ceil(needed) * 2 ** (max(1, attempt) - 1)))


def train_submissions(config: dict[str, Any], clock: JobClock | None, trainings: Iterable[Mapping[str, str]]) -> int:
    """Submissions the longest of the ``trainings`` (the train jobs' wildcards) needs when each may last
    ``cluster.max_runtime`` minutes (and stops a little before it to snapshot: ``ncsn.slurm``)."""
    cluster = config["cluster"]
    longest = 0.0
    for wildcards in trainings:
        if "train" in cluster["runtime"]:
            needed = float(cluster["runtime"]["train"])
        else:
            needed = cluster["safety"] * clock.minutes("train", wildcards) + STARTUP_MINUTES
        longest = max(longest, needed)
    usable = max(1.0, cluster["max_runtime"] - STARTUP_MINUTES / 2)
    return max(1, math.ceil(longest / usable))


def format_estimate(result: Estimate) -> str:
    """A plain-text table (GPU-hours and GB per rule and experiment or data set, totals), the planned
    jobs it does not count, the peak memory per job kind, then the assumptions."""
    sustained = result.sustained_flops
    lines = [f"{'experiment/data set':<22} {'rule':<14} {'GPU-hours':>10} {'disk GB':>9}  what"]
    for r in result.rows:
        lines.append(
            f"{r.key:<22} {r.rule:<14} {result.hours(r):>10.2f} {r.disk_bytes / 1e9:>9.2f}  {r.note(sustained)}"
        )
    by_rule: dict[str, list[float]] = {}
    for r in result.rows:
        total = by_rule.setdefault(r.rule, [0.0, 0.0])
        total[0] += result.hours(r)
        total[1] += r.disk_bytes
    lines.append("")
    for rule, (hours, disk) in by_rule.items():
        lines.append(f"{'all':<22} {rule:<14} {hours:>10.1f} {disk / 1e9:>9.2f}")
    hours = sum(result.hours(r) for r in result.rows)
    disk = sum(r.disk_bytes for r in result.rows)
    lines.append(f"{'TOTAL':<22} {'':<14} {hours:>10.1f} {disk / 1e9:>9.2f}")
    counted = sum(r.jobs for r in result.rows)
    lines += ["", f"Jobs: {result.jobs} planned by the workflow, {counted} with GPU work or disk above."]
    for rule, count in sorted(result.not_costed.items()):
        lines.append(f"NOT COSTED: rule {rule} ({count} jobs): no cost function in ncsn.costs; counted as nothing")
    capacity = GPU_MEMORY_GIB[result.gpu]
    lines += ["", f"Peak GPU memory per job (fp32; the {result.gpu.upper()} has {capacity:g} GiB):"]
    for m in result.memory:
        lines.append(f"{m.experiment:<22} {m.kind:<10} {m.gib:>8.1f} GiB  {m.source}: {m.note}")
    for m in result.memory:
        if m.gib > capacity:
            lines.append(
                f"WARNING: {m.experiment} {m.kind} needs about {m.gib:.1f} GiB, more than the {capacity:g} GiB of a "
                f"{result.gpu.upper()}: lower its batch size, or pick a larger card"
            )
    speed = result.speed
    slower = [p.describe() for p in paths(speed.gpu, speed.precision) if p.path != speed.path]
    lines += [
        "",
        f"Assumptions: {speed.gpu.upper()} {speed.precision} on its {speed.describe()}"
        + (f"; efficiency {speed.source}" if speed.source else "")
        + (f", faster than its {slower[0]}." if slower and not speed.source else "."),
        f"- Measured: fp32 efficiency {FP32_EFFICIENCY}, calibrated on the [Re] report's V100 timings (1.73 it/s "
        "training, 1398 s per 1000 CIFAR-10 samples); memory marked measured (benchmarks/results/gpu.json).",
        f"- Assumed: tf32/bf16 efficiency {TENSOR_CORE_EFFICIENCY} (measure it with `python -m benchmarks gpu`); every "
        "card's peak TFLOP/s and memory (data sheets); memory marked computed (tensors alive at once in a step on the "
        f"meta device, plus {CONTEXT_GIB} GiB of CUDA context and {INCEPTION_GIB} GiB for Inception features).",
        "- FLOPs counted with torch's FlopCounterMode on the configured networks at the data's shape; "
        f"Inception-v3 features {INCEPTION_GFLOP} GFLOP per image; a training step is forward + backward.",
        "- Not counted: data loading and preparation; the rules of assumed minutes (ncsn.steps: the "
        "classifier extractor, toy experiments, figures; in the cluster runtimes only); the CPU time of FID "
        "statistics, job start-up and queueing.",
        "- Disk: checkpoints hold weights (and EMA weights when on) in fp32; Adam's moments stay in the newest "
        "snapshot only; published checkpoints are hard links of the snapshots (a copy, doubling the checkpoint "
        "disk, only when results/ spans two file systems); samples uint8, the selection scores' samples included. "
        "Logs and score files are negligible.",
    ]
    return "\n".join(lines)
