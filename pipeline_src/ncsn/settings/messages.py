"""Schema problems said the way a person fixes them: the closest valid key of a typo, renamed keys,
numbers YAML read as strings, and the one error that lists them all (``SettingsError``)."""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterator

from jsonschema import Draft202012Validator

from ncsn.errors import NcsnError

MAX_PROBLEMS = 10  # a config with more is reported by its first ten

STEP_LR_HINT = (
    "write `eps` instead: it is the paper's eps of Alg. 1 (alpha_i = eps * sigma_i^2 / sigma_L^2). "
    "The official code's step_lr is half of it, so a value copied from an official config becomes eps = 2 * step_lr"
)
ADAM_EPS_HINT = "write `adam_eps` instead (Adam's epsilon); `eps` names the sampler's step size (sampling.eps)"
# Other names of a key (the official code's, common spellings) -> ours, for "did you mean".
ALIASES = {"n_iters": "iterations", "learning_rate": "lr", "num_scales": "num_levels", "n_steps": "n_steps_each"}
# Renamed keys -> their new names (a typo of an old name suggests the new one).
RENAMED_TO = {"step_lr": "eps"}


class SettingsError(NcsnError):
    """A config or settings block that cannot run; the message lists every problem found."""


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


def _unknown_key_message(parts: list, key: str, allowed: list[str]) -> str:
    where = ".".join(str(p) for p in (*parts, key))
    hint = STEP_LR_HINT if key == "step_lr" else ADAM_EPS_HINT if (key, parts[-1:]) == ("eps", ["training"]) else None
    if hint:
        return f"{where}: renamed; {hint}"
    alias = ALIASES.get(key)
    old_names = {old: new for old, new in RENAMED_TO.items() if new in allowed}
    close = [alias] if alias in allowed else difflib.get_close_matches(key, [*allowed, *old_names], n=1, cutoff=0.6)
    suggestion = f"did you mean `{old_names.get(close[0], close[0])}`? " if close else ""
    return f"{where}: unknown key; {suggestion}(allowed: {', '.join(allowed)})"


NUMBER_TEXT = re.compile(r"[-+]?(\d+)(?:\.(\d*))?[eE]([-+]?)(\d+)")


def _number_hint(value: Any, expected: Any) -> str | None:
    """How to write a number YAML read as a string (``4e-5``: YAML 1.1 needs ``4.0e-5``), or None."""
    types = {expected} if isinstance(expected, str) else set(expected)
    if not isinstance(value, str) or not types & {"number", "integer"}:
        return None
    match = NUMBER_TEXT.fullmatch(value.strip())
    if not match:
        return None
    whole, fraction, sign, exponent = match.groups()
    written = f"{value.strip()[0] if value.strip()[0] in '+-' else ''}{whole}.{fraction or '0'}e{sign or '+'}{exponent}"
    if "number" not in types:
        number = float(value)
        if not number.is_integer():
            return None
        written = str(int(number))
    return (
        f"{value!r} is a string, not a number: YAML reads an exponent as a number only with a dot in the "
        f"mantissa and a sign in the exponent; write {written}"
    )


def schema_problems(config: Any, node: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every way ``config`` breaks the schema ``node``, one message each (key paths under ``prefix``)."""
    validator = Draft202012Validator(node)
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        parts = [prefix, *error.absolute_path] if prefix else list(error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False:
            allowed = list(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(allowed)):
                yield _unknown_key_message(parts, key, allowed)
        elif error.validator == "type" and (hint := _number_hint(error.instance, error.validator_value)):
            yield f"{_path(parts)}: {hint}"
        elif error.validator == "anyOf":
            yield f"{_path(parts)}: {error.instance!r} is not allowed; expected {error.schema.get('description', error.message)}"
        else:
            yield f"{_path(parts)}: {error.message}"


def raise_problems(problems: list[str], what: str) -> None:
    """Raise ``SettingsError``: ``what`` cannot run, and the first ``MAX_PROBLEMS`` problems."""
    shown = problems[:MAX_PROBLEMS]
    more = f"\n  ... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
    raise SettingsError(f"{what} cannot run:\n  - " + "\n  - ".join(shown) + more)
