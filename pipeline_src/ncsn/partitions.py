"""What a SLURM cluster's partitions offer, and whether the jobs a run will submit fit them.

A job that asks for more than every node of its partition has (CPUs, memory, GPUs of a model,
node features) or for more time than the partition's ``MaxTime`` is not refused by ``sbatch``:
it stays PENDING forever (reason ``PartitionConfig``, ``PartitionTimeLimit``, ``ReqNodeNotAvail``).
The workflow therefore reads the partitions once before it submits anything
(``scontrol show partition -o`` for the limits, ``sinfo -N`` for the nodes; :func:`query`),
lowers a job's threads to the largest node where that is all that is wrong (:func:`fitted_threads`),
and stops naming each job and the limit it exceeds otherwise (:func:`problems`;
``workflow/rules/cluster.smk``, ``onstart``). Torch-free: it runs in the Snakemake process.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass, field, replace

# sinfo's node lines: partition, node, CPUs, memory (MB), GRES, features (one line per node and partition).
SINFO_FORMAT = "%R|%N|%c|%m|%G|%f"
_GRES_ITEM = re.compile(r"^(?P<name>[^:(]+)(?::(?P<type>[^:(]+))?(?::(?P<count>\d+))?")


@dataclass
class Node:
    """One node as ``sinfo -N`` lists it: CPUs, memory, GPUs by model ("" = untyped) and features."""

    name: str
    cpus: int
    mem_mb: int
    gpus: dict[str, int] = field(default_factory=dict)
    features: set[str] = field(default_factory=set)

    def gpu_count(self, model: str | None) -> int:
        """GPUs of ``model`` (any model when None) this node has."""
        return sum(n for kind, n in self.gpus.items() if model is None or kind == model)


@dataclass
class Partition:
    """A partition's limits (``scontrol show partition``) and its nodes (``sinfo``)."""

    name: str
    max_minutes: float = math.inf
    default: bool = False
    max_cpus_per_node: float = math.inf
    max_mem_per_node: float = math.inf
    state: str = "UP"
    nodes: list[Node] = field(default_factory=list)


@dataclass
class Request:
    """What one submission asks for: a job, or a group of jobs run as one (``what`` names it)."""

    what: str
    partition: str | None
    cpus: int
    mem_mb: int | None
    runtime: int | None
    gpus: int = 0
    gpu_model: str | None = None
    constraint: str | None = None
    group: bool = False


def parse_limit_minutes(text: str) -> float:
    """SLURM's time limit (``[days-]hours:minutes:seconds``, ``minutes``, ``UNLIMITED``) in minutes."""
    text = text.strip()
    if text.upper() in ("UNLIMITED", "INFINITE", "NONE", ""):
        return math.inf
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 1:  # minutes
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:  # minutes:seconds
        hours, (minutes, seconds) = 0, parts
    else:
        hours, minutes, seconds = parts
    return int(days or 0) * 1440 + hours * 60 + minutes + seconds / 60


def _number(text: str) -> float:
    """An ``UNLIMITED``-or-integer field (``MaxMemPerNode``, ``MaxCPUsPerNode``)."""
    return math.inf if not text or text.upper() == "UNLIMITED" else float(text)


def parse_partitions(scontrol: str) -> dict[str, Partition]:
    """``scontrol show partition -o`` (one line per partition, KEY=VALUE fields) -> name -> Partition."""
    found = {}
    for line in scontrol.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if "PartitionName" not in fields:
            continue
        found[fields["PartitionName"]] = Partition(
            name=fields["PartitionName"],
            max_minutes=parse_limit_minutes(fields.get("MaxTime", "UNLIMITED")),
            default=fields.get("Default") == "YES",
            max_cpus_per_node=_number(fields.get("MaxCPUsPerNode", "UNLIMITED")),
            max_mem_per_node=_number(fields.get("MaxMemPerNode", "UNLIMITED")),
            state=fields.get("State", "UP"),
        )
    return found


def parse_gres(text: str) -> dict[str, int]:
    """sinfo's ``%G`` (``gpu:2``, ``gpu:a100:4(S:0-1),gpu:v100:2``, ``(null)``) -> GPU model -> count
    ("" for GPUs declared without a type); other GRES are left out."""
    gpus: dict[str, int] = {}
    for item in re.split(r",(?![^(]*\))", text.strip()):
        match = _GRES_ITEM.match(item.strip())
        if not match or match["name"] != "gpu":
            continue
        kind, count = match["type"] or "", match["count"]
        if count is None and kind.isdigit():  # gpu:2
            kind, count = "", kind
        gpus[kind] = gpus.get(kind, 0) + int(count or 1)
    return gpus


def parse_nodes(sinfo: str, partitions: dict[str, Partition]) -> dict[str, Partition]:
    """Adds the nodes of ``sinfo -h -N -o SINFO_FORMAT`` to ``partitions`` (a partition sinfo names
    but scontrol did not is added without limits); returns ``partitions``."""
    for line in sinfo.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 6:
            continue
        partition, name, cpus, mem, gres, features = parts
        partition = partition.rstrip("*")
        node = Node(
            name=name,
            cpus=int(re.match(r"\d+", cpus)[0]),
            mem_mb=int(re.match(r"\d+", mem)[0]),
            gpus=parse_gres(gres),
            features=set() if features in ("(null)", "") else set(features.split(",")),
        )
        partitions.setdefault(partition, Partition(partition)).nodes.append(node)
    return partitions


def query(timeout: float = 30) -> dict[str, Partition] | None:
    """The partitions of the cluster this machine submits to; None where ``scontrol``/``sinfo`` fail."""
    try:
        scontrol = subprocess.run(
            ["scontrol", "show", "partition", "-o"], capture_output=True, text=True, timeout=timeout, check=True
        ).stdout
        sinfo = subprocess.run(
            ["sinfo", "-h", "-N", "-o", SINFO_FORMAT], capture_output=True, text=True, timeout=timeout, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nodes(sinfo, parse_partitions(scontrol))


def resolve(partitions: dict[str, Partition], name: str | None) -> Partition | None:
    """The partition a job asking for ``name`` lands in (the default one when None; the first the
    cluster has of a list ``a,b``, as sbatch takes several); None if absent."""
    if name:
        return next((partitions[n] for n in name.split(",") if n in partitions), None)
    return next((p for p in partitions.values() if p.default), None)


def fitted_threads(partition: Partition | None, threads: int) -> int:
    """``threads`` lowered to the CPUs of the partition's largest node (and its MaxCPUsPerNode)."""
    if partition is None or not partition.nodes:
        return threads
    most = min(max(node.cpus for node in partition.nodes), partition.max_cpus_per_node)
    return max(1, min(threads, int(most)))


def features_met(constraint: str | None, features: set[str]) -> bool:
    """Whether a node with ``features`` satisfies ``constraint`` (``a|b``, ``a&b``, ``a,b``; brackets
    and counts are read as plain alternatives)."""
    if not constraint:
        return True
    alternatives = re.split(r"\|", re.sub(r"[\[\]()]|\*\d+", "", constraint))
    return any(all(f in features for f in re.split(r"[&,]", alt) if f) for alt in alternatives)


def _node_shortfalls(request: Request, node: Node, partition: Partition) -> list[str]:
    short = []
    cpus = min(node.cpus, partition.max_cpus_per_node)
    if request.cpus > cpus:
        short.append(f"{request.cpus} CPUs (the node has {cpus:g})")
    mem = min(node.mem_mb, partition.max_mem_per_node)
    if request.mem_mb and request.mem_mb > mem:
        short.append(f"{request.mem_mb} MB of memory (the node has {mem:g} MB)")
    if request.gpus and node.gpu_count(request.gpu_model) < request.gpus:
        model = f" {request.gpu_model}" if request.gpu_model else ""
        have = ", ".join(f"{n} {kind or 'untyped'}" for kind, n in node.gpus.items()) or "none"
        short.append(f"{request.gpus}{model} GPU(s) (the node has {have})")
    if not features_met(request.constraint, node.features):
        short.append(f"features {request.constraint!r} (the node has {', '.join(sorted(node.features)) or 'none'})")
    return short


def problems(requests: list[Request], partitions: dict[str, Partition], max_runtime: int) -> list[str]:
    """One line per request that would pend forever (or a group over ``max_runtime``), naming the
    job, what it asks and the limit; empty when every request fits."""
    found = []
    for r in requests:
        names = r.partition.split(",") if r.partition else [None]
        options = [_problems(replace(r, partition=name), partitions, max_runtime) for name in names]
        if all(options):  # none of the partitions it lists can take it
            found += options[0]
    return found


def _problems(r: Request, partitions: dict[str, Partition], max_runtime: int) -> list[str]:
    """What keeps ``r`` from ever starting in its one partition (see :func:`problems`)."""
    partition = resolve(partitions, r.partition)
    if partition is None:
        where = f"partition {r.partition!r}" if r.partition else "the default partition"
        return [f"{r.what}: asks for {where}, which the cluster lacks (it has {', '.join(partitions)})"]
    found = []
    if r.group and r.runtime and r.runtime > max_runtime:
        found.append(
            f"{r.what}: a group asks for the sum of its jobs' runtimes, {r.runtime} min, over "
            f"cluster.max_runtime ({max_runtime} min): lower --group-components or cluster.runtime"
        )
    elif r.runtime and r.runtime > partition.max_minutes:
        found.append(
            f"{r.what}: asks for {r.runtime} min, over partition {partition.name}'s MaxTime of "
            f"{partition.max_minutes:g} min (set cluster.max_runtime to it)"
        )
    shortfalls = [_node_shortfalls(r, node, partition) for node in partition.nodes]
    if shortfalls and all(shortfalls):
        node, short = min(zip(partition.nodes, shortfalls), key=lambda pair: len(pair[1]))
        found.append(
            f"{r.what}: no node of partition {partition.name} has what it asks for; the closest, "
            f"{node.name}, lacks: " + "; ".join(short)
        )
    return found


def parse_gres_request(gres: str | None) -> tuple[int, str | None]:
    """(GPUs, model) of a job's ``gres`` resource (``gpu:1``, ``gpu:a100:2``); (0, None) without GPUs."""
    if not gres:
        return 0, None
    for kind, n in parse_gres(gres).items():
        return n, kind or None
    return 0, None
