"""Sharded sample generation from a trained checkpoint (annealed Langevin, or plain Langevin for the baseline).

The N samples of one evaluation are cut into *blocks* of ``sampling.batch_size`` samples; block
``b`` starts from uniform noise drawn with a generator seeded from ``(seed, b)`` and runs its whole
chain as one batch. Shard ``k`` of ``K`` takes blocks ``[k*B//K, (k+1)*B//K)`` of the ``B``
blocks, so K jobs (on K GPUs) together produce exactly the samples one job would: a sample
depends on the checkpoint, seed, sampling settings and its index, never on the sharding.
Samples are stored as uint8 NHWC (``round(255 * clamp(x, 0, 1))``).

Two seed streams keep the final numbers fair: ``evaluation`` (``ncsn sample``) and ``selection``
(``ncsn score``). With the same seed they draw different starting noise and Langevin noise, so the
samples that chose a checkpoint are never the ones that report its IS/FID.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ncsn import sampling as samplers
from ncsn.errors import NcsnError
from ncsn.io import save_npz
from ncsn.progress import Progress
from ncsn.records import SAMPLE_SHARD
from ncsn.settings import chain_steps, shard_blocks

STREAMS = ("evaluation", "selection")  # index 0 keeps the original (seed, block) seeding


def block_seed(seed: int, block: int, stream: str = "evaluation") -> int:
    """A well-mixed 63-bit seed for block ``block`` of the run seeded ``seed``, in seed stream ``stream``."""
    if stream not in STREAMS:
        raise NcsnError(f"seed stream must be one of {', '.join(STREAMS)}, got {stream!r}")
    entropy = [int(seed), int(block)] + ([STREAMS.index(stream)] if stream != STREAMS[0] else [])
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (B, C, H, W) in [0, 1] (unclamped) -> uint8 (B, H, W, C)."""
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def run_sampler(
    model: torch.nn.Module,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    opts: dict[str, Any],
    generator: torch.Generator,
    snapshots: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The configured sampler (the one dispatch on ``sampling.method``) run from ``x``.

    ``annealed``: Alg. 1 over all levels; ``langevin``: plain Langevin at the smallest level (the
    single-sigma baseline, App. B.2; with one level its step alpha = eps * sigma_L^2 / sigma_L^2 =
    eps, as annealing would give). ``snapshots=True`` also returns frames: one per noise level
    (annealed, paper Fig. 4) or ten evenly spaced (plain).
    """
    steps = opts["n_steps_each"]
    if opts["method"] == "annealed":
        return samplers.annealed_langevin(
            model,
            x,
            sigmas,
            n_steps_each=steps,
            eps=opts["eps"],
            denoise=opts["denoise"],
            snapshot_every=steps if snapshots else None,
            generator=generator,
        )
    every = max(1, steps // 10) if snapshots else None
    return samplers.langevin(
        model, x, step_size=opts["eps"], n_steps=steps, generator=generator, level=len(sigmas) - 1, snapshot_every=every
    )


def sample_block(
    model: Callable, sigmas: torch.Tensor, opts: dict[str, Any], shape: tuple[int, ...], generator: torch.Generator
) -> torch.Tensor:
    """One batch of samples from uniform noise on [0, 1] with the configured Langevin sampler."""
    x = samplers.uniform_init(shape, generator=generator, device=sigmas.device)
    return run_sampler(model, x, sigmas, opts, generator)


def generate(
    model: torch.nn.Module,
    sigmas: torch.Tensor,
    image_shape: tuple[int, int, int],
    opts: dict[str, Any],
    num_samples: int,
    seed: int,
    shard: int = 0,
    num_shards: int = 1,
    log: Callable[[str], None] = lambda line: None,
    stream: str = "evaluation",
    blocks_dir: str | os.PathLike | None = None,
    draw_key: str = "",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Draw shard ``shard`` of ``num_shards`` of ``num_samples`` samples; returns (uint8 NHWC, info).

    ``stream``: ``evaluation`` for final samples, ``selection`` for checkpoint scoring (see above).
    ``blocks_dir``: every finished block is also kept there (``block_{b}.npz``, with ``draw_key``,
    which names the draw), and a block found there with the same key is taken instead of drawn again:
    a shard killed after hours (a signal, a pre-emption) resumes at its first unfinished block, and
    ends with the samples an uninterrupted run draws (each block's seed depends on its index only).

    ``image_shape`` is (C, H, W) of the model's data; ``sigmas`` (descending) lie on the model's device;
    ``opts`` is a filled sampling block (a command's envelope holds one; ``ncsn.settings.check_block("sampling", ...)``
    fills one written by hand).
    """
    blocks = shard_blocks(num_samples, opts["batch_size"], shard, num_shards)
    start, stop = blocks[0][1], blocks[-1][2]
    out = np.empty((stop - start, image_shape[1], image_shape[2], image_shape[0]), dtype=np.uint8)
    began = time.perf_counter()
    progress = Progress(len(blocks) * chain_steps(opts, len(sigmas)), "sample", unit="steps", log=log)

    def counted(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        progress.update(1)
        return model(x, levels)

    kept = 0
    with progress:
        for block, lo, hi in blocks:
            found = load_block(blocks_dir, block, draw_key) if blocks_dir is not None else None
            if found is not None and len(found) == hi - lo:
                out[lo - start : hi - start] = found
                kept += 1
                progress.update(chain_steps(opts, len(sigmas)))
                progress.write(f"block {block}: samples {lo}..{hi - 1} kept from an interrupted run ({blocks_dir})")
                continue
            generator = torch.Generator(device=sigmas.device).manual_seed(block_seed(seed, block, stream))
            x = sample_block(counted, sigmas, opts, (hi - lo, *image_shape), generator)
            out[lo - start : hi - start] = to_uint8(x)
            if blocks_dir is not None:
                save_block(blocks_dir, block, draw_key, out[lo - start : hi - start])
            progress.write(f"block {block}: samples {lo}..{hi - 1} done ({time.perf_counter() - began:.1f} s)")
    seconds = time.perf_counter() - began
    info = {
        "num_samples": int(num_samples),
        "shard": int(shard),
        "num_shards": int(num_shards),
        "start": int(start),
        "stop": int(stop),
        "seed": int(seed),
        "stream": stream,
        "sampling": opts,
        "device": str(sigmas.device),
        "seconds": round(seconds, 3),
        "samples_per_s": (stop - start) / seconds if seconds > 0 else None,
        "blocks_kept": kept,
    }
    return out, info


def block_path(blocks_dir: str | os.PathLike, block: int) -> Path:
    return Path(blocks_dir) / f"block_{block}.npz"


def save_block(blocks_dir: str | os.PathLike, block: int, draw_key: str, images: np.ndarray) -> None:
    """Keep one finished block (atomically) for a resumed run of the same draw."""
    save_npz(block_path(blocks_dir, block), images=images, key=np.array(draw_key))


def load_block(blocks_dir: str | os.PathLike, block: int, draw_key: str) -> np.ndarray | None:
    """A kept block of the same draw, or None (absent, unreadable, or of another draw)."""
    path = block_path(blocks_dir, block)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["images"] if str(data["key"]) == draw_key else None
    except (OSError, ValueError, KeyError):
        return None


def save_shard(path: str | os.PathLike, images: np.ndarray, info: dict[str, Any]) -> None:
    """Write one shard: ``images`` uint8 NHWC and ``meta`` (JSON of ``info``), atomically."""
    save_npz(path, images=images, meta=np.array(SAMPLE_SHARD.dumps(info)))


def load_shard(path: str | os.PathLike, with_images: bool = True) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Read one shard: (images or None, info); ``with_images=False`` reads only the small ``meta``."""
    path = Path(path)
    if not path.is_file():
        raise NcsnError(f"sample shard {path} does not exist; draw it with `python -m ncsn sample ... --out {path}`")
    try:
        with np.load(path, allow_pickle=False) as data:  # members load lazily: meta alone is cheap
            images, meta_text = (data["images"] if with_images else None), str(data["meta"])
    except (OSError, ValueError, KeyError) as err:
        raise NcsnError(
            f"{path} is not a sample shard written by `ncsn sample` ({err}); delete it and sample again"
        ) from err
    return images, SAMPLE_SHARD.loads(meta_text, path)


def load_shards(paths: list[str | os.PathLike]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Read the K shards of one evaluation into one array in sample order (each shard's images read once).

    Checks that they are all K shards of the same draw (same total, seed and settings), each once.
    """
    if not paths:
        raise NcsnError("no sample shards given")
    infos = [load_shard(p, with_images=False)[1] for p in paths]
    first = infos[0]
    same = ("num_samples", "num_shards", "seed", "sampling", "checkpoint")
    for path, info in zip(paths, infos):
        differing = [key for key in same if info.get(key) != first.get(key)]
        if differing:
            raise NcsnError(
                f"shard {path} differs from {paths[0]} in {differing}: shards of different draws cannot be mixed"
            )
    found = sorted(info["shard"] for info in infos)
    if found != list(range(first["num_shards"])):
        raise NcsnError(
            f"expected shards 0..{first['num_shards'] - 1} once each, got {found}; sample the missing shards"
        )
    order = sorted(range(len(paths)), key=lambda i: infos[i]["shard"])
    bounds = [(infos[i]["start"], infos[i]["stop"]) for i in order]
    if (
        bounds[0][0] != 0
        or bounds[-1][1] != first["num_samples"]
        or any(a[1] != b[0] for a, b in zip(bounds, bounds[1:]))
    ):
        raise NcsnError(
            f"shards {[str(paths[i]) for i in order]} cover samples {bounds}, not 0..{first['num_samples']} without gaps"
        )
    images = None
    for i in order:
        shard_images, info = load_shard(paths[i])
        if images is None:
            images = np.empty((first["num_samples"], *shard_images.shape[1:]), dtype=np.uint8)
        images[info["start"] : info["stop"]] = shard_images
    return images, [infos[i] for i in order]
