"""Load ``schema.yaml`` and fill its defaults: the one place a setting's default is read.

``definition(name)`` is one block's schema standalone; ``fill_defaults`` fills every absent key
that has a default, at every depth; an extractor block gets only the defaults of its kind.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed ``schema.yaml`` (read once)."""
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def definition(name: str) -> dict[str, Any]:
    """The schema of one block, standalone (its ``$ref``s resolve).

    ``name`` is a block (``sampling``, ``training``, ...), a top-level block of the config
    (``cluster``) or a dotted path into one (``figures.samples``).
    """
    defs = schema()["$defs"]
    first, *rest = name.split(".")
    top = {key: value for key, value in schema()["properties"].items() if value.get("type") == "object"}
    if first not in defs and first not in top:
        raise KeyError(f"no settings block {first!r}; known: {', '.join([*defs, *top])}")
    node = defs[first] if first in defs else top[first]
    for key in rest:
        node = resolve(node["properties"][key])
    return {**node, "$defs": defs}


def pointed(ref: str) -> dict[str, Any]:
    """The node a ``$ref`` points at: ``#/$defs/NAME`` or a path into it (``#/$defs/figures/properties/samples``)."""
    node: Any = schema()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a ``$ref`` replaced by its target (siblings such as ``default`` kept)."""
    while "$ref" in node:
        node = {**pointed(node["$ref"]), **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def block_of(node: dict[str, Any]) -> str | None:
    """The block (``sampling``, ``extractor``, ...) a node is, when it is a ``$ref`` to ``#/$defs/NAME``."""
    parts = node.get("$ref", "").removeprefix("#/").split("/")
    return parts[1] if len(parts) == 2 and parts[0] == "$defs" else None


def envelope_definition(command: str) -> dict[str, Any]:
    """The schema of what ``ncsn COMMAND`` (``figure KIND``, ``toy KIND``) receives as ``--settings``, standalone."""
    envelopes = schema()["envelopes"]
    if command not in envelopes:
        raise KeyError(f"no envelope of command {command!r}; known: {', '.join(envelopes)}")
    return {**envelopes[command], "$defs": schema()["$defs"]}


def envelope_commands() -> list[str]:
    """Every command (``figure KIND``, ``toy KIND`` one per kind) that takes ``--settings``."""
    return list(schema()["envelopes"])


def fill_defaults(value: Any, node: dict[str, Any]) -> Any:
    """A copy of ``value`` with every absent key that has a default filled in, at every depth."""
    node = resolve(node)
    if not isinstance(value, dict) or node.get("type") != "object":
        return copy.deepcopy(value)
    properties = node.get("properties", {})
    out = {}
    for key, sub in properties.items():
        if key in value:
            out[key] = fill_defaults(value[key], sub)
        elif (found := default_in(resolve(sub), value, properties)) is not NO_DEFAULT:
            out[key] = fill_defaults(copy.deepcopy(found), sub)
    extra = node.get("additionalProperties")
    for key, item in value.items():
        if key not in properties:
            out[key] = fill_defaults(item, extra) if isinstance(extra, dict) else copy.deepcopy(item)
    return out


NO_DEFAULT = object()
BY = "x-default-by-"  # `x-default-by-KEY: {value of KEY: default}`: a default that depends on a sibling key


def default_in(node: dict[str, Any], block: dict[str, Any], properties: dict[str, Any]) -> Any:
    """The default of setting ``node`` in ``block``: its ``x-default-by-KEY`` entry for the block's ``KEY``
    (a data set's ``source``, an extractor's or schedule's ``kind``), else its ``default``, else ``NO_DEFAULT``."""
    for name, table in node.items():
        if name.startswith(BY):
            key = name.removeprefix(BY)
            choice = block.get(key, resolve(properties[key]).get("default"))
            if choice in table:
                return table[choice]
    return node.get("default", NO_DEFAULT)


def defaults(name: str) -> dict[str, Any]:
    """Every default of block ``name`` (e.g. ``defaults("sampling")["eps"] == 4e-5``)."""
    return fill_defaults({}, definition(name))


def top_level_default(key: str) -> Any:
    """The default of a top-level key (``device``, ``seed``)."""
    return resolve(schema()["properties"][key])["default"]


def kind_keys(kind: str) -> set[str]:
    """Keys only an extractor of ``kind`` reads (the schema's ``x-kinds``)."""
    return {key for key, node in definition("extractor")["properties"].items() if node.get("x-kinds") == [kind]}


# Extractor kinds renamed -> their current name; the old name still reads as the new one.
KIND_RENAMED = {"digits": "classifier"}


def extractor_kind(kind: str) -> str:
    """The current name of an extractor kind (``digits`` -> ``classifier``)."""
    return KIND_RENAMED.get(kind, kind)


def fill_extractor(ext: dict[str, Any]) -> dict[str, Any]:
    """An extractor block with the defaults of its kind under the kind's current name (the other kind's
    defaults, and inception's `dataset`, left out)."""
    ext = {**ext, "kind": extractor_kind(ext["kind"])}
    filled = fill_defaults(ext, definition("extractor"))
    foreign = kind_keys("classifier") | {"dataset"} if ext["kind"] == "inception" else kind_keys("inception")
    return {key: value for key, value in filled.items() if key in ext or key not in foreign}


def source_keys(source: str) -> set[str]:
    """Keys a data set of ``source`` accepts (the schema's ``x-sources``; keys without it: every source)."""
    properties = definition("dataset")["properties"]
    return {key for key, node in properties.items() if source in node.get("x-sources", [source])}
