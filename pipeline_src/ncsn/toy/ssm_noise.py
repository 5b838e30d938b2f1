"""Paper Fig. 1 ([Re] Fig. 1): sliced score matching on images with and without N(0, 1e-4) data noise.

Images lie on a low-dimensional manifold (and digits on a lattice of 17 grey levels), where the
data score is undefined: the SSM loss of a ResNet auto-encoder does not settle on clean data but
converges once a tiny Gaussian perturbation gives the data full support. In numbers: on
perturbed data the loss is bounded below by ``-0.5 E||grad log p_sigma||^2`` (about
``-D / (2 sigma^2)``), on clean data it is not, and ``tail_spread`` tells a settling curve from one
that keeps fluctuating.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

from ncsn.errors import NcsnError
from ncsn.models import build_model
from ncsn.settings import defaults
from ncsn.toy.ssm_fit import fit_ssm

SMOOTH_WINDOW: int = defaults("toy_ssm_noise")["smooth_window"]  # logged values per running mean


def to_float_images(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [0, 1], without dequantisation noise (the manifold stays a manifold)."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise NcsnError(f"expected uint8 images (N, H, W, C), got {images.dtype} {images.shape}")
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).contiguous()


def train_curve(
    data: torch.Tensor, settings: Mapping[str, Any], noise_std: float, seed: int, device: torch.device
) -> list[dict[str, float]]:
    """Train a fresh auto-encoder score net with SSM on ``data`` (+ ``noise_std`` Gaussian noise); the loss log."""
    iterations, batch = int(settings["iterations"]), int(settings["batch_size"])
    if iterations < 1 or not 1 <= batch <= len(data):
        raise NcsnError(
            f"toy.ssm_noise: iterations ({iterations}) must be >= 1 and batch_size ({batch}) in 1..{len(data)}"
        )
    torch.manual_seed(seed)  # the same initial network for both runs
    spec = {"arch": "ssm_autoencoder", **settings["model"], "channels": data.shape[1], "image_size": data.shape[2]}
    model = build_model(spec).to(device).train()
    generator = torch.Generator(device=device).manual_seed(seed)
    data = data.to(device)

    def next_batch() -> torch.Tensor:
        x = data[torch.randint(len(data), (batch,), generator=generator, device=device)]
        return x + noise_std * torch.randn(x.shape, generator=generator, device=device) if noise_std > 0 else x

    return fit_ssm(model, next_batch, settings, generator)


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (the first ones average what precedes them)."""
    cumulative = np.cumsum(np.insert(np.asarray(values, dtype=np.float64), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - max(1, int(window)))
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def tail_spread(log: list[dict[str, float]], fraction: float = 0.25, window: int = SMOOTH_WINDOW) -> dict[str, float]:
    """Does the curve settle? Statistics of the logged losses; a converged curve has a flat tail.

    ``relative_tail_std``: standard deviation / |mean| of the last ``fraction`` of the raw losses
    (it includes the mini-batch noise of the estimator). ``rebound``: the largest rise of the
    running mean (``window`` logged values) above its lowest value so far, as a fraction of the
    depth of its lowest value overall; a curve that "first decreases and then fluctuates" climbs
    back (>= 1: by as much as it had fallen below 0), a converging one only wobbles.
    """
    values = np.array([row["loss"] for row in log], dtype=np.float64)
    tail = values[-max(2, int(math.ceil(len(values) * fraction))) :]
    smooth = running_mean(values, window)
    lowest = np.minimum.accumulate(smooth)
    rebound = float(np.max(smooth - lowest) / max(abs(float(lowest[-1])), np.finfo(np.float64).tiny))
    return {
        "tail_mean": float(tail.mean()),
        "tail_std": float(tail.std()),
        "relative_tail_std": float(tail.std() / max(abs(tail.mean()), np.finfo(np.float64).tiny)),
        "rebound": rebound,
        "min": float(values.min()),
        "final": float(values[-1]),
    }


def optimal_loss(data: torch.Tensor, noise_std: float, num_samples: int, generator: torch.Generator) -> float:
    """Monte Carlo estimate of the lowest SSM loss on the perturbed data, ``-0.5 E||grad log p_sigma||^2``.

    ``p_sigma`` is the training images convolved with N(0, noise_std^2 I), whose score is exact:
    ``(E[x_i | x~] - x~) / sigma^2`` with softmax weights over all images. For images far apart
    compared with sigma it is close to ``-D / (2 sigma^2)``. Clean data have no such bound.
    """
    flat = data.flatten(1).double()
    picks = flat[torch.randint(len(flat), (num_samples,), generator=generator, device=flat.device)]
    noisy = picks + noise_std * torch.randn(picks.shape, generator=generator, device=flat.device, dtype=flat.dtype)
    total = 0.0
    for chunk in noisy.split(64):
        weights = torch.softmax(-torch.cdist(chunk, flat).square() / (2 * noise_std**2), dim=1)
        total += float((weights @ flat - chunk).square().sum()) / noise_std**4
    return -0.5 * total / num_samples


def run(
    images: np.ndarray, settings: Mapping[str, Any], seed: int, device: torch.device
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both runs of Fig. 1: ``(rows of iteration, loss, data)``, summary per run.

    The perturbed run's summary also holds ``optimal_loss``, the bound its loss converges to at best.
    """
    data = to_float_images(images)
    noise_std = math.sqrt(float(settings["noise_variance"]))
    rows, summary = [], {"noise_variance": float(settings["noise_variance"]), "iterations": int(settings["iterations"])}
    perturbed = f"perturbed, N(0, {settings['noise_variance']:g})"
    for label, std in (("clean data", 0.0), (perturbed, noise_std)):
        log = train_curve(data, settings, std, seed, device)
        rows += [{**row, "data": label} for row in log]
        summary[label] = tail_spread(log, window=int(settings["smooth_window"]))
    generator = torch.Generator().manual_seed(seed)
    summary[perturbed]["optimal_loss"] = optimal_loss(data, noise_std, int(settings["batch_size"]), generator)
    return rows, summary
