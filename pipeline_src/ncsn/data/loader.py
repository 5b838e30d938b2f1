"""Training-time batches drawn on the training device from the whole uint8 data set held there."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ncsn.errors import NcsnError


class DeviceBatcher:
    """Endless shuffled batches of float32 (B, C, H, W) images in [0, 1], made on ``device``.

    The whole training array is uploaded once as uint8 NCHW. Batches walk through a random
    permutation of the images (like the official code's shuffled DataLoader); when a
    permutation runs out, the batch is completed from the next one, so every batch has
    ``batch_size`` images and every image is drawn equally often. Optional random horizontal
    flips (p = 1/2 per image) and the official uniform dequantisation
    ``x * 255/256 + U(0, 1/256)`` with x in [0, 1], i.e. ``(uint8 + U(0, 1)) / 256``;
    without dequantisation the batch is ``uint8 / 255``.

    All randomness comes from ``generator`` (a ``torch.Generator`` on ``device``; a new one
    seeded with ``seed`` when None). ``state_dict()`` holds the generator state and the position
    in the current permutation; ``load_state_dict()`` restores them, so a resumed run draws
    bit-identical batches.
    """

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        batch_size: int,
        device: str | torch.device = "cpu",
        flip: bool = False,
        generator: torch.Generator | None = None,
        dequantize: bool = True,
        seed: int = 0,
    ) -> None:
        images = torch.as_tensor(images)
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[0] == 0:
            raise NcsnError(
                f"DeviceBatcher needs a non-empty uint8 (N, H, W, C) array, got {images.dtype} {tuple(images.shape)}"
            )
        if int(batch_size) < 1:
            raise NcsnError(f"batch_size must be a positive integer, got {batch_size}")
        self.device = torch.device(device)
        if generator is None:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(seed)
        elif generator.device.type != self.device.type:
            raise NcsnError(
                f"the batcher's generator lives on {generator.device} but the data on {self.device}; create it with torch.Generator(device={str(self.device)!r})"
            )
        self.generator = generator
        self.images = images.permute(0, 3, 1, 2).contiguous().to(self.device)  # uint8 NCHW, uploaded once
        self.batch_size = int(batch_size)
        self.flip = bool(flip)
        self.dequantize = bool(dequantize)
        self.num_images = int(self.images.shape[0])
        self.order = self._permutation()
        self.position = 0

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def _permutation(self) -> torch.Tensor:
        return torch.randperm(self.num_images, generator=self.generator, device=self.device)

    def _indices(self) -> torch.Tensor:
        parts, needed = [], self.batch_size
        while needed > 0:
            if self.position == self.num_images:
                self.order, self.position = self._permutation(), 0
            take = min(needed, self.num_images - self.position)
            parts.append(self.order[self.position : self.position + take])
            self.position += take
            needed -= take
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def next(self) -> torch.Tensor:
        """The next batch: float32 (batch_size, C, H, W) on the device, in [0, 1]."""
        batch = self.images[self._indices()]
        if self.flip:
            flipped = torch.rand(batch.shape[0], generator=self.generator, device=self.device) < 0.5
            batch = torch.where(flipped[:, None, None, None], batch.flip(-1), batch)
        x = batch.to(torch.float32)
        if self.dequantize:
            noise = torch.rand(x.shape, generator=self.generator, device=self.device, dtype=torch.float32)
            return (x + noise) / 256.0
        return x / 255.0

    __next__ = next

    def __iter__(self) -> "DeviceBatcher":
        return self

    def state_dict(self) -> dict[str, Any]:
        """Everything that decides the next batches: generator state, current permutation and position."""
        return {"generator": self.generator.get_state(), "order": self.order.cpu(), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        order = torch.as_tensor(state["order"])
        if order.numel() != self.num_images:
            raise NcsnError(
                f"batcher state is for {order.numel()} images but the data set has {self.num_images}; the data changed since the snapshot"
            )
        self.generator.set_state(state["generator"])
        self.order = order.to(self.device)
        self.position = int(state["position"])
