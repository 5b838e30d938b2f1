"""Paper Fig. 1 ([Re] Fig. 1): sliced score matching on images with and without N(0, 1e-4) data noise.

Images lie on a low-dimensional manifold (and digits on a lattice of 17 grey levels), where the
data score is undefined: the SSM loss of a ResNet auto-encoder does not settle on clean data but
converges once a tiny Gaussian perturbation gives the data full support.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

from ncsn.errors import NcsnError
from ncsn.losses import sliced_score_matching_loss
from ncsn.models import build_model


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
        raise NcsnError(f"toy.ssm_noise: iterations ({iterations}) must be >= 1 and batch_size ({batch}) in 1..{len(data)}")
    torch.manual_seed(seed)  # the same initial network for both runs
    spec = {"arch": "ssm_autoencoder", **settings["model"], "channels": data.shape[1], "image_size": data.shape[2]}
    model = build_model(spec).to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=float(settings["lr"]))
    generator = torch.Generator(device=device).manual_seed(seed)
    data = data.to(device)
    log, every = [], max(1, int(settings.get("log_every", 10)))
    for it in range(1, iterations + 1):
        x = data[torch.randint(len(data), (batch,), generator=generator, device=device)]
        if noise_std > 0:
            x = x + noise_std * torch.randn(x.shape, generator=generator, device=device)
        loss = sliced_score_matching_loss(model, x, n_particles=int(settings.get("n_particles", 1)), generator=generator)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if it % every == 0 or it == iterations:
            log.append({"iteration": it, "loss": float(loss.detach())})
    return log


def tail_spread(log: list[dict[str, float]], fraction: float = 0.25) -> dict[str, float]:
    """Mean and standard deviation of the last ``fraction`` of the logged losses: a converged curve is flat."""
    values = np.array([row["loss"] for row in log], dtype=np.float64)
    tail = values[-max(2, int(math.ceil(len(values) * fraction))):]
    return {"tail_mean": float(tail.mean()), "tail_std": float(tail.std()), "min": float(values.min()), "final": float(values[-1])}


def run(images: np.ndarray, settings: Mapping[str, Any], seed: int, device: torch.device) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both runs of Fig. 1: ``(rows of iteration, loss, data)``, summary per run."""
    data = to_float_images(images)
    noise_std = math.sqrt(float(settings["noise_variance"]))
    rows, summary = [], {"noise_variance": float(settings["noise_variance"]), "iterations": int(settings["iterations"])}
    for label, std in (("clean data", 0.0), (f"perturbed, N(0, {settings['noise_variance']:g})", noise_std)):
        log = train_curve(data, settings, std, seed, device)
        rows += [{**row, "data": label} for row in log]
        summary[label] = tail_spread(log)
    return rows, summary
