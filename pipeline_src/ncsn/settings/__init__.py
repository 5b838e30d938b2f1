"""One definition of every setting: load ``schema.yaml``, fill its defaults, check a config or one block.

Torch-free, so the workflow's start-up check (``Snakefile``) and the commands' ``--settings``
call the same checks. ``schema.yaml`` holds keys, types, defaults, allowed values and a
description; the modules of this package add what a schema cannot say, one job each:

- ``schema``: load the schema, fill defaults (``defaults``, ``fill_defaults``, ``definition``);
- ``messages``: renamed keys, the closest valid key of a typo, ``SettingsError``;
- ``checks``: the cross-field checks a job would otherwise reject hours later;
- ``implied``: what a filled config implies for the jobs (published and scored checkpoints, shard blocks, chain
  steps, timed sampling);
- ``table``: the generated tables of the docs (parameters and steps in ``config/README.md``, envelopes in
  ``docs/ARCHITECTURE.md``).

This module holds the entry points (``check_config``, ``check_block``, ``check_envelope``: what a command's
``--settings`` holds, the schema's ``envelopes``) and
re-exports the public names, so ``from ncsn.settings import ...`` is all a caller needs.
"""

from __future__ import annotations

from typing import Any

from ncsn.settings.checks import (
    BLOCK_CHECKS,
    NATIVE_SIZE,
    config_cross_problems,
    dataset_key_problems,
    dataset_problems,
    experiment_problems,
    extractor_problems,
    gmm_problems,
    sampling_problems,
    schedule_problems,
    sweep_problems,
)
from ncsn.settings.implied import (
    chain_steps,
    is_published,
    is_trained,
    published_iterations,
    reuses_selection_score,
    sample_timing_jobs,
    scored_count,
    shard_blocks,
)
from ncsn.settings.messages import (
    ADAM_EPS_HINT,
    ALIASES,
    MAX_PROBLEMS,
    RENAMED_TO,
    STEP_LR_HINT,
    SettingsError,
    raise_problems,
    schema_problems,
)
from ncsn.settings.schema import (
    SCHEMA_FILE,
    block_of,
    defaults,
    definition,
    envelope_commands,
    envelope_definition,
    extractor_kind,
    fill_defaults,
    fill_extractor,
    kind_keys,
    schema,
    source_keys,
    top_level_default,
)
from ncsn.settings.table import (
    ENVELOPES_BEGIN,
    ENVELOPES_END,
    STEPS_BEGIN,
    STEPS_END,
    TABLE_BEGIN,
    TABLE_END,
    envelope_table,
    parameter_table,
    with_envelope_table,
    with_generated_tables,
    with_parameter_table,
    with_steps_table,
)

__all__ = [
    "ADAM_EPS_HINT",
    "ALIASES",
    "BLOCKS",
    "BLOCK_CHECKS",
    "ENVELOPES_BEGIN",
    "ENVELOPES_END",
    "MAX_PROBLEMS",
    "NATIVE_SIZE",
    "RENAMED_TO",
    "SCHEMA_FILE",
    "STEP_LR_HINT",
    "STEPS_BEGIN",
    "STEPS_END",
    "TABLE_BEGIN",
    "TABLE_END",
    "SettingsError",
    "block_of",
    "check_block",
    "check_config",
    "check_envelope",
    "config_cross_problems",
    "config_problems",
    "dataset_key_problems",
    "dataset_problems",
    "defaults",
    "definition",
    "envelope_commands",
    "envelope_definition",
    "experiment_problems",
    "extractor_kind",
    "extractor_problems",
    "fill_defaults",
    "fill_extractor",
    "gmm_problems",
    "chain_steps",
    "is_published",
    "is_trained",
    "published_iterations",
    "reuses_selection_score",
    "scored_count",
    "shard_blocks",
    "kind_keys",
    "envelope_table",
    "parameter_table",
    "raise_problems",
    "sample_timing_jobs",
    "sampling_problems",
    "schedule_problems",
    "schema",
    "schema_problems",
    "source_keys",
    "sweep_problems",
    "top_level_default",
    "with_envelope_table",
    "with_generated_tables",
    "with_parameter_table",
    "with_steps_table",
]

# Settings blocks a command checks on its own (``check_block``): name -> schema definition.
BLOCKS = (
    "dataset",
    "extractor",
    "model",
    "schedule",
    "training",
    "sampling",
    "selection",
    "evaluation",
    "toy",
    "figures",
    "intervals",
)


def config_problems(config: Any) -> tuple[dict[str, Any], list[str]]:
    """``(filled config, problems)``: schema problems first; cross-field checks only on a well-formed config."""
    problems = list(schema_problems(config, schema()))
    if problems:
        return config, problems
    problems = [p for name, ext in config["extractors"].items() for p in extractor_problems(ext, f"extractors.{name}")]
    filled = fill_defaults(config, schema())
    filled["extractors"] = {name: fill_extractor(ext) for name, ext in config["extractors"].items()}
    return filled, problems + config_cross_problems(filled)


def check_config(config: Any) -> dict[str, Any]:
    """The config with every default filled in, or ``SettingsError`` listing what is wrong (the workflow's start-up check)."""
    filled, problems = config_problems(config)
    if problems:
        raise_problems(problems, "The config")
    return filled


def check_block(name: str, settings: Any, where: str | None = None) -> dict[str, Any]:
    """One block (``sampling``, ``training``, ...) with defaults filled in, checked as the workflow checks it.

    ``where`` prefixes the key paths in messages (default: the block's name).
    """
    where = name if where is None else where
    node = definition(name)
    problems = list(schema_problems(settings if settings is not None else {}, node, where))
    if not problems:
        filled, problems = fill_block(name, settings or {}, node, where)
    if problems:
        raise_problems(problems, f"The {name} settings")
    return filled


def fill_block(name: str | None, given: Any, node: dict[str, Any], where: str) -> tuple[Any, list[str]]:
    """``(filled, cross-field problems)`` of a schema-valid value of block ``name`` (None: no block of its own)."""
    if name == "extractor":
        return fill_extractor(given), extractor_problems(given, where)
    filled = fill_defaults(given, node)
    return filled, BLOCK_CHECKS[name](filled, where) if name in BLOCK_CHECKS else []


def check_envelope(command: str, settings: Any, where: str = "") -> dict[str, Any]:
    """What ``ncsn COMMAND`` received as ``--settings``, checked against its envelope (the schema's
    ``envelopes.COMMAND``) with every default filled: the one check of a command's settings.

    The blocks it carries get their cross-field checks as in the config; ``where`` prefixes the key
    paths in messages (``datasets.NAME`` for ``prepare``).
    """
    node = envelope_definition(command)
    problems = list(schema_problems(settings, node, where))
    if not problems:
        filled, problems = fill_block(block_of(node), settings, node, where)
        for key, sub in node.get("properties", {}).items():  # the blocks it carries, given or by default
            block, given = block_of(sub), settings.get(key, sub.get("default"))
            if block is not None and given is not None:
                path = f"{where}.{key}" if where else key
                filled[key], more = fill_block(block, given, definition(block), path)
                problems += more
    if problems:
        raise_problems(problems, f"ncsn {command} --settings")
    return filled
