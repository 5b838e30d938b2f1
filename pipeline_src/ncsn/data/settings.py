"""Defaults and checking of one data set's settings block (an entry of the config's ``datasets:``)."""

from __future__ import annotations

from typing import Any

from ncsn.data.transforms import FILTERS
from ncsn.errors import NcsnError
from ncsn.settings import defaults

# keys every source accepts (defaults: ncsn.settings); `flip` is used at training time and only recorded here
COMMON = {"source": None, **{key: defaults("dataset")[key] for key in ("flip", "resize_filter")}}


def is_count(value: Any, minimum: int = 1) -> bool:
    """An integer (not a bool) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def check_keys(source: str, settings: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    """Merge ``settings`` over the defaults of ``source`` and check every value; an unknown key is an error (a typo)."""
    allowed = {**COMMON, **keys}
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise NcsnError(
            f"unknown setting(s) {', '.join(map(repr, unknown))} for a data set with source '{source}'; "
            f"the keys it accepts are: {', '.join(sorted(allowed))} (see docs/data.md)"
        )
    opts = {**allowed, **settings, "source": source}
    problems = {
        "image_size": (
            opts.get("image_size") is None or is_count(opts["image_size"]),
            "a positive integer (pixels) or null",
        ),
        "crop": (
            opts.get("crop") in (None, "square") or is_count(opts["crop"]),
            "a side length in pixels, 'square' or null",
        ),
        "workers": (opts.get("workers") is None or is_count(opts["workers"]), "a positive integer or null (all CPUs)"),
        "channels": (opts.get("channels") in (1, 3), "1 (grey) or 3 (RGB)"),
        "split_seed": (is_count(opts.get("split_seed", 0), 0), "a non-negative integer"),
        "test_fraction": (
            isinstance(opts.get("test_fraction", 0.5), (int, float))
            and not isinstance(opts.get("test_fraction"), bool),
            "a number strictly between 0 and 1",
        ),
        "flip": (isinstance(opts["flip"], bool), "true or false"),
        "download": (isinstance(opts.get("download", False), bool), "true or false"),
        "resize_filter": (opts["resize_filter"] in FILTERS, f"one of {', '.join(FILTERS)}"),
    }
    for key, (ok, expected) in problems.items():
        if key in opts and not ok:
            raise NcsnError(f"setting '{key}' of this '{source}' data set must be {expected}, got {opts[key]!r}")
    return opts
