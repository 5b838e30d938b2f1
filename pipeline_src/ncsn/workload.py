"""What the networks and data sets of a config weigh, whatever the hardware: FLOPs per sample of a
score network (``FlopCounterMode`` on the meta device: nothing computed, nothing allocated), the
bytes a step keeps alive, image counts and shapes. ``ncsn.costs`` turns them, with the counts of
``ncsn.settings.implied`` (checkpoints, sampler steps), into the cost of each workflow job.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from ncsn.data.store import META_FILE
from ncsn.errors import NcsnError
from ncsn.records import PREPARED_DATA
from ncsn.settings import NATIVE_SIZE, definition, fill_defaults

# Inception-v3 at 299x299 (FID/IS features): 5.71 GMAC (torchvision's model card) = 11.4 GFLOP.
INCEPTION_GFLOP = 11.4
# Known data sets: (train images, test images) after `prepare`; sizes: ncsn.settings.NATIVE_SIZE.
DATASET_COUNTS: dict[str, tuple[int, int]] = {
    "digits": (1438, 359),
    "mnist": (60000, 10000),
    "cifar10": (50000, 10000),
    "celeba": (162770, 39829),
}
BYTES_PER_FLOAT = 4
# Where counts of earlier estimates are kept (one JSON file); default ~/.cache/ncsn.
CACHE_DIR_VARIABLE = "NCSN_CACHE_DIR"


def cache_file() -> Path:
    """The file that keeps the counts across processes: $NCSN_CACHE_DIR, else $XDG_CACHE_HOME/ncsn or ~/.cache/ncsn."""
    root = os.environ.get(CACHE_DIR_VARIABLE)
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ncsn"
    return Path(root) / "workload.json"


@functools.cache
def _code_version() -> str:
    """What the counts depend on besides their arguments: torch's version and the networks' and this
    module's source (a change to any of them counts afresh)."""
    import torch

    import ncsn.models

    digest = hashlib.sha256(torch.__version__.encode())
    for source in sorted(Path(ncsn.models.__file__).parent.glob("*.py")) + [Path(__file__)]:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _disk_cached(kind: str, arguments: Any, compute: Callable[[], Any]) -> Any:
    """``compute()``, or the value an earlier process stored for the same ``kind``, ``arguments`` and
    code: counting a paper-sized network on the meta device takes seconds, its result never changes.
    A cache that cannot be read or written is ignored (counted again)."""
    key = hashlib.sha256(json.dumps([kind, _code_version(), arguments], default=str).encode()).hexdigest()
    path = cache_file()

    def stored() -> dict[str, Any]:
        try:
            table = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return table if isinstance(table, dict) else {}

    table = stored()
    if key in table:
        return table[key]
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**stored(), key: value}))
        os.replace(tmp, path)
    except OSError:
        pass
    return value


@functools.lru_cache(maxsize=None)
def _count(spec_items: tuple, batch: int) -> tuple[float, float, int]:
    forward, backward, parameters = _disk_cached("flops", [spec_items, batch], lambda: _count_now(spec_items, batch))
    return float(forward), float(backward), int(parameters)


def _count_now(spec_items: tuple, batch: int) -> tuple[float, float, int]:
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
    arguments = [spec_items, batch, training]
    return int(_disk_cached("activations", arguments, lambda: _activation_bytes_now(spec_items, batch, training)))


def _activation_bytes_now(spec_items: tuple, batch: int, training: bool) -> int:
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


def network_flops(spec: dict[str, Any]) -> tuple[float, float, int]:
    """(forward FLOPs per sample, forward+backward FLOPs per sample, parameters) of a score network."""
    return _count(tuple(sorted(spec.items())), 2)


def dataset_shape(name: str, block: dict[str, Any], data_root: Path) -> tuple[int, int, int, int]:
    """(image size, channels, train, test images) of a data set: the prepared one's, else the known table's."""
    meta = data_root / name / META_FILE
    if meta.is_file():
        record = PREPARED_DATA.read(meta)
        (size, _, channels), counts = record["shape"], record["counts"]
        return int(size), int(channels), int(counts["train"]), int(counts["test"])
    source = block.get("source", name)
    if source not in DATASET_COUNTS:
        raise NcsnError(
            f"datasets.{name}: the size of source {source!r} is unknown before it is prepared; "
            f"run the workflow's prepare step first (it writes {meta}), then estimate again"
        )
    filled = fill_defaults({"source": source, **block}, definition("dataset"))
    train, test = DATASET_COUNTS[source]
    return int(filled.get("image_size") or NATIVE_SIZE[source]), int(filled["channels"]), train, test
