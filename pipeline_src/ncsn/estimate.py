"""What a config will cost before it runs: GPU-hours and disk per experiment and stage.

FLOPs are counted on the real score networks at the real shape (``FlopCounterMode`` on the
meta device: nothing is computed, nothing allocated); time is FLOPs divided by a GPU's peak
throughput times an efficiency factor. The fp32 factor is calibrated on the [Re] report's V100
timings (Table 1: 1.73 it/s training CIFAR-10, 1398 s per 1000 CIFAR-10 samples); the factor
for tensor-core precisions (tf32, bf16) is an assumption, to be replaced by the figures of
``python -m benchmarks gpu``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncsn.errors import NcsnError
from ncsn.settings import is_trained, sample_timing_jobs

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
# Inception-v3 at 299x299 (FID/IS features): 5.71 GMAC (torchvision's model card) = 11.4 GFLOP.
INCEPTION_GFLOP = 11.4
# Known data sets: (image size, channels, train images, test images) after `prepare`.
DATASET_SHAPES: dict[str, tuple[int, int, int, int]] = {
    "digits": (8, 1, 1438, 359),
    "mnist": (28, 1, 60000, 10000),
    "cifar10": (32, 3, 50000, 10000),
    "celeba": (32, 3, 162770, 39829),
}
BYTES_PER_FLOAT = 4


# stage -> the workflow rule whose jobs do its work (one cost function each, in ``estimate``)
STAGE_RULES = {
    "prepare": "prepare",
    "train": "train",
    "ref-stats": "ref_stats",
    "heldout": "heldout_loss",
    "score": "score",
    "sample": "sample",
    "evaluate": "evaluate",
    "sweep": "sweep_cell",
    "timing": "sample_timing",
}
# Minutes one job of the rules the FLOP count does not model takes (assumed, generous): CPU work
# (toy experiments, the digits extractor, reading official weights) and small figure samplings.
FIXED_MINUTES = {
    "train_extractor": 10,
    "import_official": 10,
    "figure_intermediate": 20,
    "figure_inpainting": 20,
    "neighbours": 30,
    "toy_ssm_noise": 60,
    "toy_scores": 30,
    "toy_langevin_modes": 20,
    "toy_eps_sweep": 20,
}
# Minutes every job spends outside the counted work: start-up, imports, loading data and weights.
STARTUP_MINUTES = 5


@dataclass
class Stage:
    """One stage of one experiment: floating-point work on the GPU and bytes left on disk.

    ``jobs`` workflow jobs (of rule ``STAGE_RULES[stage]``) share the work; the largest does
    ``job_flop`` of it (the whole ``flop`` when there is one job).
    """

    experiment: str
    stage: str
    flop: float = 0.0
    disk_bytes: float = 0.0
    note: str = ""
    jobs: int = 1
    job_flop: float | None = None

    @property
    def rule(self) -> str:
        return STAGE_RULES[self.stage]

    @property
    def largest_job_flop(self) -> float:
        return self.flop if self.job_flop is None else self.job_flop


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
class Estimate:
    gpu: str
    precision: str
    efficiency: float
    stages: list[Stage] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    efficiency_source: str = ""

    def hours(self, stage: Stage) -> float:
        return stage.flop / self.sustained_flops / 3600

    @property
    def sustained_flops(self) -> float:
        return GPU_PEAK_TFLOPS[self.gpu][self.precision] * 1e12 * self.efficiency

    def job_minutes(self, rule: str, key: str | None = None) -> float:
        """Minutes of the longest job of ``rule`` (for experiment or data set ``key``; any when None),
        start-up not included: its counted work at this GPU's sustained speed, or ``FIXED_MINUTES``."""
        if rule in FIXED_MINUTES:
            return float(FIXED_MINUTES[rule])
        flops = [s.largest_job_flop for s in self.stages if s.rule == rule and key in (None, s.experiment)]
        if not flops and key is not None:  # e.g. a data set's ref_stats asked by experiment
            return self.job_minutes(rule)
        return max(flops, default=0.0) / self.sustained_flops / 60


def default_precision(gpu: str, amp: bool) -> str:
    """bf16 when training uses autocast, else tf32 where the GPU has it (torch's default for
    convolutions, ``torch.backends.cudnn.allow_tf32``), else fp32."""
    if amp and GPU_PEAK_TFLOPS[gpu]["bf16"]:
        return "bf16"
    return "tf32" if GPU_PEAK_TFLOPS[gpu]["tf32"] else "fp32"


def efficiency(precision: str) -> float:
    return FP32_EFFICIENCY if precision == "fp32" else TENSOR_CORE_EFFICIENCY


@functools.lru_cache(maxsize=None)
def _count(spec_items: tuple, batch: int) -> tuple[float, float, int]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ncsn.models import build_model, count_parameters, image_shape

    spec = dict(spec_items)
    with torch.device("meta"):
        model = build_model(spec)
    x = torch.zeros(batch, *image_shape(spec), device="meta")
    levels = torch.zeros(batch, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            model(x, levels)
    forward = counter.get_total_flops() / batch
    with FlopCounterMode(display=False) as counter:
        model(x, levels).sum().backward()
    return forward, counter.get_total_flops() / batch, count_parameters(model)


class _LiveBytes:
    """Peak bytes of the tensors alive at once while torch runs (on the meta device: nothing is
    allocated), counting every new storage until it is freed."""

    def __init__(self) -> None:
        self.live = self.peak = 0

    def __enter__(self):
        import weakref

        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_flatten

        outer = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for tensor in tree_flatten(out)[0]:
                    if hasattr(tensor, "untyped_storage") and tensor._base is None:
                        size = tensor.untyped_storage().nbytes()
                        outer.live += size
                        outer.peak = max(outer.peak, outer.live)
                        weakref.finalize(tensor, outer._free, size)
                return out

        self._mode = Mode()
        self._mode.__enter__()
        return self

    def _free(self, size: int) -> None:
        self.live -= size

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)


@functools.lru_cache(maxsize=None)
def _activation_bytes(spec_items: tuple, batch: int, training: bool) -> int:
    import torch

    from ncsn.models import build_model, image_shape

    spec = dict(spec_items)
    with torch.device("meta"):
        model = build_model(spec)
    x = torch.zeros(batch, *image_shape(spec), device="meta")
    levels = torch.zeros(batch, dtype=torch.long, device="meta")
    with _LiveBytes() as counter:
        if training:
            model(x, levels).pow(2).sum().backward()
        else:
            with torch.no_grad():
                model(x, levels)
    return counter.peak


def activation_bytes(spec: dict[str, Any], batch: int, training: bool) -> int:
    """Peak bytes torch allocates in one step of a score network at ``batch`` (fp32): a training
    step's forward and backward (activations kept for the backward, then the gradients), or a
    sampling step's forward; weights and optimiser state not included."""
    return _activation_bytes(tuple(sorted(spec.items())), batch, training)


def measured_peaks(path: Path = Path("benchmarks/results/gpu.json")) -> dict[tuple[str, int, int], float]:
    """(kind, ngf, batch) -> peak MiB of the fp32 cases ``python -m benchmarks gpu`` measured at the
    paper's CIFAR-10 shape (32x32x3, 10 levels), from its result file when it exists."""
    import json

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
    import json

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


def network_flops(spec: dict[str, Any]) -> tuple[float, float, int]:
    """(forward FLOPs per sample, forward+backward FLOPs per sample, parameters) of a score network."""
    return _count(tuple(sorted(spec.items())), 2)


def dataset_shape(name: str, block: dict[str, Any], data_root: Path) -> tuple[int, int, int, int]:
    """(image size, channels, train, test images) of a data set: the prepared one's, else the known table's."""
    import json

    meta = data_root / name / "meta.json"
    if meta.is_file():
        record = json.loads(meta.read_text())
        (size, _, channels), counts = record["shape"], record["counts"]
        return int(size), int(channels), int(counts["train"]), int(counts["test"])
    source = block.get("source", name)
    if source not in DATASET_SHAPES:
        raise NcsnError(
            f"datasets.{name}: the size of source {source!r} is unknown before it is prepared; "
            f"run the workflow's prepare step first (it writes {meta}), then estimate again"
        )
    size, channels, train, test = DATASET_SHAPES[source]
    return int(block.get("image_size") or size), int(block.get("channels") or channels), train, test


def sampler_steps(sampling: dict[str, Any], num_levels: int) -> int:
    """Score-network evaluations per sample of a config's sampling block (the sampler's own count)."""
    from ncsn.generate import chain_steps, sampling_settings

    return chain_steps(sampling_settings(sampling), num_levels)


def checkpoint_count(training: dict[str, Any]) -> int:
    return math.ceil(training["iterations"] / training["snapshot_freq"])


def estimate(
    config: dict[str, Any],
    gpu: str,
    precision: str | None = None,
    data_root: Path = Path("results/data"),
    gpu_json: Path = Path("benchmarks/results/gpu.json"),
    memory: bool = True,
) -> Estimate:
    """GPU work, disk and (``memory``) peak GPU memory of every stage of a validated config (defaults
    filled) on ``gpu``."""
    gpu = gpu.lower()
    if gpu not in GPU_PEAK_TFLOPS:
        raise NcsnError(f"unknown GPU {gpu!r}; known: {', '.join(GPU_PEAK_TFLOPS)}")
    if precision is None:
        precision = default_precision(gpu, any(e["training"].get("amp") for e in config["experiments"].values()))
    if precision not in PRECISIONS or not GPU_PEAK_TFLOPS[gpu][precision]:
        have = [p for p in PRECISIONS if GPU_PEAK_TFLOPS[gpu][p]]
        raise NcsnError(f"{gpu} has no {precision} throughput in the table; use --precision {' or '.join(have)}")
    from ncsn.schedules import make_sigmas

    result = Estimate(gpu, precision, efficiency(precision))
    calibrated = measured_efficiency(gpu, precision, gpu_json)
    if calibrated:
        result.efficiency, device = calibrated
        result.efficiency_source = f"measured on {device} (training it/s, {gpu_json})"
    measured = measured_peaks(gpu_json)
    sustained = GPU_PEAK_TFLOPS[gpu][precision] * 1e12 * result.efficiency
    inception = {n for n, e in config["extractors"].items() if e["kind"] == "inception"}
    stats_done = set()
    for name, exp in config["experiments"].items():
        ds = config["datasets"][exp["dataset"]]
        size, channels, n_train, n_test = dataset_shape(exp["dataset"], ds, data_root)
        num_levels = make_sigmas(exp["schedule"]).numel()
        spec = {**exp["model"], "channels": channels, "image_size": size, "num_classes": num_levels}
        forward, train_step, params = network_flops(spec)
        feature = INCEPTION_GFLOP * 1e9 if exp["extractor"] in inception else 0.0
        if memory:
            result.memory += job_memory(name, exp, spec, params, exp["extractor"] in inception, measured)
        image_bytes = size * size * channels
        training, sampling = exp["training"], exp["sampling"]
        steps = sampler_steps(sampling, num_levels)
        # a given checkpoint (`checkpoint:` block) is neither trained nor selected
        checkpoints = checkpoint_count(training) if is_trained(exp) else 0
        weights = params * BYTES_PER_FLOAT * (2 if training.get("ema") else 1)
        add = result.stages.append
        if exp["dataset"] not in {s.experiment for s in result.stages if s.stage == "prepare"}:
            add(Stage(exp["dataset"], "prepare", 0.0, (n_train + n_test) * image_bytes, "data set, uint8"))
        if checkpoints:
            add(
                Stage(
                    name,
                    "train",
                    training["iterations"] * training["batch_size"] * train_step,
                    checkpoints * weights + 2 * params * BYTES_PER_FLOAT,
                    f"{sustained / (training['batch_size'] * train_step):.2f} it/s at batch {training['batch_size']}; "
                    f"{params / 1e6:.1f} M parameters, {train_step / 1e9:.1f} GFLOP per sample and step; "
                    f"{checkpoints} checkpoints, Adam's moments in the newest only",
                )
            )
        if (exp["dataset"], exp["extractor"]) not in stats_done:
            stats_done.add((exp["dataset"], exp["extractor"]))
            add(Stage(exp["dataset"], "ref-stats", 2 * n_train * feature, 0.0, "torch-fidelity and clean-fid features"))
        selection = exp["selection"]
        heldout = selection["heldout"]
        if checkpoints:
            add(
                Stage(
                    name,
                    "heldout",
                    checkpoints * num_levels * heldout["num_images"] * forward,
                    0.0,
                    f"{checkpoints} checkpoints x {num_levels} levels x {heldout['num_images']} test images",
                    jobs=checkpoints,
                    job_flop=num_levels * heldout["num_images"] * forward,
                )
            )
        scored = scored_checkpoints(selection, checkpoints)
        if scored:
            n = scored * selection["num_samples"]
            add(
                Stage(
                    name,
                    "score",
                    n * (steps * forward + feature),
                    n * image_bytes,
                    f"{scored} checkpoints x {selection['num_samples']} samples x {steps} steps (samples kept)",
                    jobs=scored,
                    job_flop=selection["num_samples"] * (steps * forward + feature),
                )
            )
        n, shards = exp["evaluation"]["num_samples"], exp["evaluation"]["shards"]
        per_1000 = 1000 * steps * forward / sustained
        add(
            Stage(
                name,
                "sample",
                n * steps * forward,
                n * image_bytes,
                f"{n} samples x {steps} steps; {per_1000:.0f} s per 1000",
                jobs=shards,
                job_flop=math.ceil(n / shards) * steps * forward,
            )
        )
        add(Stage(name, "evaluate", 2 * n * feature, 0.0, "IS and FID, two libraries"))
        sweep = config.get("figures", {}).get("sweep", {})
        if sweep.get("experiment") == name:
            cells = len(sweep["eps"]) * len(sweep["n_steps_each"])
            # network evaluations per sample summed over the grid
            evaluations = len(sweep["eps"]) * sum(
                sampler_steps({**sampling, "n_steps_each": t}, num_levels) for t in sweep["n_steps_each"]
            )
            m = sweep["num_samples"]
            # the cell at the experiment's own eps and T copies the chosen checkpoint's selection score
            reused = 1 if scored and m == selection["num_samples"] else 0
            add(
                Stage(
                    name,
                    "sweep",
                    m * ((evaluations - reused * steps) * forward + (cells - reused) * feature),
                    cells * m * image_bytes,
                    f"{len(sweep['eps'])} step sizes x T in {sweep['n_steps_each']} x {m} samples"
                    + ("; the experiment's own cell reuses its selection score" if reused else ""),
                    jobs=cells,
                    job_flop=m
                    * (
                        max(sampler_steps({**sampling, "n_steps_each": t}, num_levels) for t in sweep["n_steps_each"])
                        * forward
                        + feature
                    ),
                )
            )
        timed = [count for timed_name, count in sample_timing_jobs(config) if timed_name == name]
        if timed:
            add(
                Stage(
                    name,
                    "timing",
                    sum(timed) * steps * forward,
                    sum(timed) * image_bytes,
                    f"[Re] Table 1's timed sampling of {', '.join(map(str, timed))} images",
                    jobs=len(timed),
                    job_flop=max(timed) * steps * forward,
                )
            )
    return result


def job_memory(
    name: str, exp: dict[str, Any], spec: dict[str, Any], params: int, inception: bool, measured: dict
) -> list[Memory]:
    """Peak GPU memory of an experiment's job kinds (fp32): training (weights, gradients, Adam's two
    moments, EMA weights and a step's activations), sampling (weights and a step of the sampler's
    batch; score, sample, sweep and timing jobs), and the held-out loss; plus the CUDA context, and
    Inception's features where the extractor is Inception (evaluate and ref_stats need no more)."""
    gib = 2.0**30
    weights = params * BYTES_PER_FLOAT
    training, sampling = exp["training"], exp["sampling"]
    kinds = []
    if is_trained(exp):
        batch = training["batch_size"]
        state = weights * (4 + (1 if training.get("ema") else 0))
        kinds.append(("train", "train", batch, state, f"batch {batch}: weights, gradients, Adam, activations"))
    batch = min(sampling["batch_size"], exp["evaluation"]["num_samples"])
    kinds.append(("sample", "sampling", batch, weights, f"batch {batch}: weights and one step's activations"))
    heldout = exp["selection"]["heldout"]
    kinds.append(("heldout", None, heldout["batch_size"], weights, f"batch {heldout['batch_size']}"))
    shape_matches = (spec["channels"], spec["image_size"], spec["num_classes"]) == (3, 32, 10)
    memory = []
    for kind, bench_kind, batch, fixed, note in kinds:
        key = (bench_kind, spec.get("ngf"), batch)
        extra = INCEPTION_GIB if inception and kind == "sample" else 0.0
        if shape_matches and spec.get("arch") == "refinenet" and key in measured:
            total = measured[key] / 1024 + CONTEXT_GIB + extra
            memory.append(Memory(name, kind, total, "measured", note + " (benchmarks/results/gpu.json)"))
            continue
        active = activation_bytes(spec, batch, training=kind == "train")
        memory.append(Memory(name, kind, (fixed + active) / gib + CONTEXT_GIB + extra, "computed", note))
    return memory


def runtime_minutes(config: dict[str, Any], rule: str, key: str | None, cost: Estimate | None) -> int:
    """Minutes one job of ``rule`` asks a cluster for: ``cluster.runtime``'s figure for the rule, else
    ``cluster.safety`` x the cost model's time plus start-up; never more than ``cluster.max_runtime``.
    ``cost`` is the config's estimate on ``cluster.gpu`` (only read when the rule has no figure)."""
    cluster = config["cluster"]
    if rule in cluster["runtime"]:
        needed = float(cluster["runtime"][rule])
    else:
        needed = cluster["safety"] * cost.job_minutes(rule, key) + STARTUP_MINUTES
    return max(1, min(cluster["max_runtime"], math.ceil(needed)))


def train_submissions(config: dict[str, Any], cost: Estimate | None) -> int:
    """Submissions the longest training needs when each may last ``cluster.max_runtime`` minutes
    (and stops a little before it to snapshot: ``ncsn.slurm``)."""
    cluster = config["cluster"]
    longest = 0.0
    for name, exp in config["experiments"].items():
        if not is_trained(exp):
            continue
        if "train" in cluster["runtime"]:
            needed = float(cluster["runtime"]["train"])
        else:
            needed = cluster["safety"] * cost.job_minutes("train", name) + STARTUP_MINUTES
        longest = max(longest, needed)
    usable = max(1.0, cluster["max_runtime"] - STARTUP_MINUTES / 2)
    return max(1, math.ceil(longest / usable))


def scored_checkpoints(selection: dict[str, Any], checkpoints: int) -> int:
    """Checkpoints whose FID the selection computes: all (fid), the k of lowest held-out loss (loss_topk) or none (last)."""
    if selection["criterion"] == "fid":
        return checkpoints
    if selection["criterion"] == "loss_topk":
        return min(selection["k"], checkpoints)
    return 0


def format_estimate(result: Estimate) -> str:
    """A plain-text table (GPU-hours and GB per stage, totals) followed by the assumptions."""
    peak = GPU_PEAK_TFLOPS[result.gpu][result.precision]
    lines = [
        f"{'experiment/data set':<22} {'stage':<10} {'GPU-hours':>10} {'disk GB':>9}  what",
    ]
    for s in result.stages:
        lines.append(f"{s.experiment:<22} {s.stage:<10} {result.hours(s):>10.2f} {s.disk_bytes / 1e9:>9.2f}  {s.note}")
    by_stage: dict[str, list[float]] = {}
    for s in result.stages:
        total = by_stage.setdefault(s.stage, [0.0, 0.0])
        total[0] += result.hours(s)
        total[1] += s.disk_bytes
    lines.append("")
    for stage, (hours, disk) in by_stage.items():
        lines.append(f"{'all':<22} {stage:<10} {hours:>10.1f} {disk / 1e9:>9.2f}")
    hours = sum(result.hours(s) for s in result.stages)
    disk = sum(s.disk_bytes for s in result.stages)
    lines.append(f"{'TOTAL':<22} {'':<10} {hours:>10.1f} {disk / 1e9:>9.2f}")
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
    lines += [
        "",
        f"Assumptions: {result.gpu.upper()} {result.precision}, peak {peak:g} TFLOP/s x efficiency {result.efficiency:g} "
        f"= {peak * result.efficiency:.1f} TFLOP/s sustained"
        + (f"; efficiency {result.efficiency_source}." if result.efficiency_source else "."),
        f"- Measured: fp32 efficiency {FP32_EFFICIENCY}, calibrated on the [Re] report's V100 timings (1.73 it/s "
        "training, 1398 s per 1000 CIFAR-10 samples); memory marked measured (benchmarks/results/gpu.json).",
        f"- Assumed: tf32/bf16 efficiency {TENSOR_CORE_EFFICIENCY} (measure it with `python -m benchmarks gpu`); every "
        "card's peak TFLOP/s and memory (data sheets); memory marked computed (tensors alive at once in a step on the "
        f"meta device, plus {CONTEXT_GIB} GiB of CUDA context and {INCEPTION_GIB} GiB for Inception features).",
        "- FLOPs counted with torch's FlopCounterMode on the configured networks at the data's shape; "
        f"Inception-v3 features {INCEPTION_GFLOP} GFLOP per image; a training step is forward + backward.",
        "- Not counted: data loading and preparation, the digits extractor, toy experiments and figures "
        "(minutes), the CPU time of FID statistics, job start-up and queueing.",
        "- Disk: checkpoints hold weights (and EMA weights when on) in fp32; Adam's moments stay in the newest "
        "snapshot only; published checkpoints are hard links of the snapshots (a copy, doubling the checkpoint "
        "disk, only when results/ spans two file systems); samples uint8, the selection scores' samples included. "
        "Logs and score files are negligible.",
    ]
    return "\n".join(lines)
