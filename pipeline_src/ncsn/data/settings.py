"""Defaults and key checking for one data set's settings block (an entry of the config's ``datasets:``)."""

from __future__ import annotations

from typing import Any

from ncsn.errors import NcsnError

# keys every source accepts; `flip` is used at training time and only recorded here
COMMON = {"source": None, "flip": False, "resize_filter": "bilinear"}


def check_keys(source: str, settings: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    """Merge ``settings`` over the defaults of ``source``; an unknown key is an error (it is most likely a typo)."""
    allowed = {**COMMON, **keys}
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise NcsnError(
            f"unknown setting(s) {', '.join(map(repr, unknown))} for a data set with source '{source}'; "
            f"the keys it accepts are: {', '.join(sorted(allowed))} (see the data section of README.md)"
        )
    opts = {**allowed, **settings, "source": source}
    for key in ("image_size", "crop"):
        value = opts.get(key)
        if value is not None and not isinstance(value, str) and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise NcsnError(f"setting '{key}' must be a positive integer (pixels), got {value!r}")
    if opts.get("channels") not in (1, 3):
        raise NcsnError(f"setting 'channels' must be 1 (grey) or 3 (RGB), got {opts.get('channels')!r}")
    if not isinstance(opts["flip"], bool):
        raise NcsnError(f"setting 'flip' must be true or false, got {opts['flip']!r}")
    if "download" in opts and not isinstance(opts["download"], bool):
        raise NcsnError(f"setting 'download' must be true or false, got {opts['download']!r}")
    return opts
