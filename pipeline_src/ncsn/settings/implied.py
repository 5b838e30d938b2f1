"""What a filled config implies for the jobs the workflow runs, computed in one place.

The checkpoints training publishes, those the selection scores, how a draw of samples is cut into
blocks and shards, how many score-network evaluations one chain takes, and which sweep cell repeats a
selection score's draw: the workflow plans its
jobs with these (``workflow/rules/common.smk``), the trainer publishes by them (``ncsn.train``), the
sampler draws by them (``ncsn.generate``) and the cost model counts with them (``ncsn.costs``,
``ncsn.workload``), so a change of the cadence, the sharding or the sampler is one edit here.
Torch-free: the workflow reads it while it plans its jobs.
"""

from __future__ import annotations

import math
from typing import Any

from ncsn.errors import NcsnError


def is_trained(exp: dict[str, Any]) -> bool:
    """Whether an experiment trains its model: one with a ``checkpoint:`` block evaluates that checkpoint instead."""
    return "checkpoint" not in exp


def is_published(iteration: int, training: dict[str, Any]) -> bool:
    """Whether training publishes the snapshot of ``iteration``: every ``snapshot_freq`` and the last. A
    snapshot off that cadence was taken only to stop early and is never published."""
    return iteration % training["snapshot_freq"] == 0 or iteration == training["iterations"]


def published_iterations(training: dict[str, Any]) -> list[int]:
    """The iterations of the checkpoints a filled ``training`` block publishes, in order."""
    return [it for it in range(1, training["iterations"] + 1) if is_published(it, training)]


def scored_count(selection: dict[str, Any], published: int) -> int:
    """Checkpoints whose FID the selection computes out of ``published``: all (fid), the k of lowest held-out loss
    (loss_topk) or none (last)."""
    if selection["criterion"] == "fid":
        return published
    if selection["criterion"] == "loss_topk":
        return min(selection["k"], published)
    return 0


def reuses_selection_score(exp: dict[str, Any], cell_sampling: dict[str, Any], cell_samples: int) -> bool:
    """Whether a sweep cell (its filled sampling block and sample count) repeats the draw of the chosen checkpoint's
    selection score: the experiment scores checkpoints, and the cell has its sampler settings and sample count.
    Such a cell copies that score and its samples (``ncsn score --reuse``) instead of drawing again."""
    selection = exp["selection"]
    scores = is_trained(exp) and scored_count(selection, len(published_iterations(exp["training"]))) > 0
    return scores and cell_samples == selection["num_samples"] and cell_sampling == exp["sampling"]


def shard_blocks(num_samples: int, batch_size: int, shard: int, num_shards: int) -> list[tuple[int, int, int]]:
    """``(block index, first sample, end sample)`` of every block shard ``shard`` of ``num_shards`` draws."""
    if num_samples < 1:
        raise NcsnError(f"num_samples must be >= 1, got {num_samples}")
    blocks = math.ceil(num_samples / batch_size)
    if not 1 <= num_shards <= blocks:
        raise NcsnError(
            f"cannot cut {num_samples} samples in blocks of sampling.batch_size={batch_size} ({blocks} blocks) into "
            f"{num_shards} shards; use between 1 and {blocks} shards or a smaller batch_size"
        )
    if not 0 <= shard < num_shards:
        raise NcsnError(f"shard index must be in 0..{num_shards - 1}, got {shard}")
    first, last = shard * blocks // num_shards, (shard + 1) * blocks // num_shards
    return [(b, b * batch_size, min((b + 1) * batch_size, num_samples)) for b in range(first, last)]


def chain_steps(sampling: dict[str, Any], num_levels: int) -> int:
    """Score evaluations of one chain of a filled ``sampling`` block: L*T for annealed Langevin (+1 denoising
    step), T for plain Langevin."""
    if sampling["method"] == "langevin":
        return sampling["n_steps_each"]
    return num_levels * sampling["n_steps_each"] + (1 if sampling["denoise"] else 0)


def sample_timing_jobs(config: dict[str, Any]) -> list[tuple[str, int]]:
    """(experiment, image count) of [Re] Table 1's timed sampling jobs: none without
    ``report.sample_timing``, every experiment when it names none."""
    block = config.get("report", {}).get("sample_timing")
    if block is None:
        return []
    names = block.get("experiments") or list(config["experiments"])
    return [(name, int(count)) for name in names for count in block["counts"]]
