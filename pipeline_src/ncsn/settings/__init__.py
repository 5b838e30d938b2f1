"""One definition of every setting: load ``schema.yaml``, fill its defaults, check a config or one block.

Torch-free, so the workflow's start-up check (``Snakefile``) and the commands' ``--settings``
call the same checks. ``schema.yaml`` holds keys, types, defaults, allowed values and a
description; this module adds what a schema cannot say: renamed keys, the closest valid key
of a typo, and the cross-field checks a job would otherwise reject hours later.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import re
from pathlib import Path
from typing import Any, Iterator

import yaml
from jsonschema import Draft202012Validator

from ncsn.errors import NcsnError

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")
MAX_PROBLEMS = 10  # a config with more is reported by its first ten

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


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed ``schema.yaml`` (read once)."""
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def definition(name: str) -> dict[str, Any]:
    """The schema of one block, standalone (its ``$ref``s resolve).

    ``name`` is a block (``sampling``, ``training``, ...) or a dotted path into one (``figures.samples``).
    """
    defs = schema()["$defs"]
    first, *rest = name.split(".")
    if first not in defs:
        raise KeyError(f"no settings block {first!r}; known: {', '.join(defs)}")
    node = defs[first]
    for key in rest:
        node = _resolve(node["properties"][key])
    return {**node, "$defs": defs}


# ----------------------------------------------------------------------------- defaults


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a ``$ref`` replaced by its target (siblings such as ``default`` kept)."""
    while "$ref" in node:
        target = schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def fill_defaults(value: Any, node: dict[str, Any]) -> Any:
    """A copy of ``value`` with every absent key that has a default filled in, at every depth."""
    node = _resolve(node)
    if not isinstance(value, dict) or node.get("type") != "object":
        return copy.deepcopy(value)
    properties = node.get("properties", {})
    out = {}
    for key, sub in properties.items():
        if key in value:
            out[key] = fill_defaults(value[key], sub)
        elif "default" in (resolved := _resolve(sub)):
            out[key] = fill_defaults(copy.deepcopy(resolved["default"]), sub)
    extra = node.get("additionalProperties")
    for key, item in value.items():
        if key not in properties:
            out[key] = fill_defaults(item, extra) if isinstance(extra, dict) else copy.deepcopy(item)
    if "sigma_begin" in properties and value.get("kind") == "single" and "num_levels" not in value:
        out["num_levels"] = 1  # the one level of `single` (the schema's default 10 is the paper's geometric)
    return out


def defaults(name: str) -> dict[str, Any]:
    """Every default of block ``name`` (e.g. ``defaults("sampling")["eps"] == 4e-5``)."""
    return fill_defaults({}, definition(name))


def top_level_default(key: str) -> Any:
    """The default of a top-level key (``device``, ``seed``)."""
    return schema()["properties"][key]["default"]


def top_level(settings: dict[str, Any], key: str) -> Any:
    """``settings[key]`` of a top-level key (``device``, ``seed``) a command received, checked, or its default."""
    value = settings.get(key, top_level_default(key))
    problems = list(_schema_problems(value, schema()["properties"][key], key))
    if problems:
        _raise(problems, "The settings")
    return value


# ----------------------------------------------------------------------------- schema problems


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


def _schema_problems(config: Any, node: dict[str, Any], prefix: str = "") -> Iterator[str]:
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


# ----------------------------------------------------------------------------- cross-field checks


def schedule_problems(spec: dict[str, Any], where: str) -> list[str]:
    """Level count and order of a filled schedule block (the checks ``make_sigmas`` would make later)."""
    kind, levels = spec["kind"], spec["num_levels"]
    if kind == "single":
        return (
            []
            if levels == 1
            else [
                f"{where}.num_levels is {levels} but kind single has one level (sigma_end); set num_levels: 1 or leave it out"
            ]
        )
    problems = []
    if levels < 2:
        problems.append(
            f"{where}.num_levels is {levels}; kind {kind} needs at least 2 levels (use kind single for one)"
        )
    if not spec["sigma_begin"] > spec["sigma_end"]:
        problems.append(
            f"{where}.sigma_begin ({spec['sigma_begin']}) must exceed {where}.sigma_end ({spec['sigma_end']}); "
            "levels run from the largest noise to the smallest"
        )
    return problems


def sampling_problems(spec: dict[str, Any], where: str) -> list[str]:
    """Combinations of a filled sampling block that the sampler would reject."""
    if spec["method"] == "langevin" and spec["denoise"]:
        return [f"{where}.denoise applies to annealed Langevin only; set it to false for method langevin"]
    return []


def gmm_problems(spec: dict[str, Any], where: str) -> list[str]:
    """One weight per mean, and every mean a 2-D point (the toy figures are planar)."""
    problems = []
    if len(spec["weights"]) != len(spec["means"]):
        problems.append(
            f"{where}: {len(spec['weights'])} weights but {len(spec['means'])} means; give one weight per mean"
        )
    if any(len(mean) != 2 for mean in spec["means"]):
        problems.append(f"{where}.means: every mean must be a 2-D point [x, y]")
    return problems


def dataset_problems(ds: dict[str, Any], where: str) -> list[str]:
    """Keys the data set's source does not read, and the `root` the file-reading sources need."""
    problems = dataset_key_problems(ds, where)
    if ds["source"] in definition("dataset")["properties"]["root"]["x-sources"] and "root" not in ds:
        problems.append(f"{where}.root: source {ds['source']} reads its files from `root`; set it to their folder")
    return problems


# block name -> its cross-field check, run by check_block and by the whole-config check
BLOCK_CHECKS = {
    "schedule": schedule_problems,
    "sampling": sampling_problems,
    "toy_gmm": gmm_problems,
    "dataset": dataset_problems,
}


def _reference(config: dict[str, Any], where: str, name: str, table: str) -> list[str]:
    if name in config[table]:
        return []
    return [f"{where}: '{name}' is not a key of '{table}' (known: {', '.join(sorted(config[table]))})"]


def experiment_problems(config: dict[str, Any], name: str) -> list[str]:
    """Cross-field problems of one filled experiment block."""
    exp, where = config["experiments"][name], f"experiments.{name}"
    problems = _reference(config, f"{where}.dataset", exp["dataset"], "datasets")
    problems += _reference(config, f"{where}.extractor", exp["extractor"], "extractors")
    problems += schedule_problems(exp["schedule"], f"{where}.schedule")
    training, sampling, evaluation = exp["training"], exp["sampling"], exp["evaluation"]
    given = exp.get("checkpoint")
    if given is None and training["snapshot_freq"] > training["iterations"]:
        problems.append(
            f"{where}.training.snapshot_freq ({training['snapshot_freq']}) exceeds training.iterations ({training['iterations']})"
        )
    if given is not None and given["format"] == "official":
        official = given.get("official_dataset") or config["datasets"].get(exp["dataset"], {}).get("source")
        if official not in ("cifar10", "celeba", "mnist"):
            problems.append(
                f"{where}.checkpoint.official_dataset: the official NCSN configs are cifar10, celeba and mnist, "
                f"got '{official}'; set it to the one that trained the checkpoint"
            )
    problems += sampling_problems(sampling, f"{where}.sampling")
    if sampling["use_ema"] is True and not training["ema"]:
        problems.append(
            f"{where}.sampling.use_ema is true but training.ema is false: the checkpoints hold no EMA weights"
        )
    blocks = -(-evaluation["num_samples"] // sampling["batch_size"])
    if evaluation["shards"] > blocks:
        problems.append(
            f"{where}.evaluation.shards ({evaluation['shards']}) exceeds the {blocks} sampling batch(es) of "
            f"{sampling['batch_size']} that evaluation.num_samples ({evaluation['num_samples']}) makes; "
            f"use at most {blocks} shards or a smaller sampling.batch_size"
        )
    if evaluation["is_splits"] > evaluation["num_samples"]:
        problems.append(
            f"{where}.evaluation.is_splits ({evaluation['is_splits']}) exceeds evaluation.num_samples ({evaluation['num_samples']})"
        )
    extractor, dataset = config["extractors"].get(exp["extractor"]), config["datasets"].get(exp["dataset"])
    if (
        extractor
        and dataset
        and extractor["kind"] == "digits"
        and (dataset["source"] != "digits" or dataset.get("image_size") not in (None, 8))
    ):
        problems.append(
            f"{where}: the digits extractor reads 8x8 grey digits, but data set '{exp['dataset']}' is not the digits source "
            "at its own size; use an inception extractor for it"
        )
    size = (dataset or {}).get("image_size")
    if exp["model"]["arch"] in ("refinenet", "refinenet_re") and size is not None and size % 2:
        problems.append(
            f"{where}.model: refinenet halves the resolution once and needs an even image size, but datasets.{exp['dataset']}.image_size is {size}"
        )
    return problems


def kind_keys(kind: str) -> set[str]:
    """Keys only an extractor of ``kind`` reads (the schema's ``x-kinds``)."""
    return {key for key, node in definition("extractor")["properties"].items() if node.get("x-kinds") == [kind]}


def extractor_problems(ext: dict[str, Any], where: str) -> list[str]:
    """Keys written for the other kind of extractor, and the weights path inception needs (on the user's block)."""
    other = "inception" if ext["kind"] == "digits" else "digits"
    problems = [
        f"{where}.{key}: applies to kind {other} only; remove it" for key in sorted(kind_keys(other)) if key in ext
    ]
    if ext["kind"] == "inception" and "weights" not in ext:
        problems.append(f"{where}.weights: kind inception needs the path of weights-inception-2015-12-05-6726825d.pth")
    return problems


def fill_extractor(ext: dict[str, Any]) -> dict[str, Any]:
    """An extractor block with the defaults of its kind (the other kind's defaults, and inception's `dataset`, left out)."""
    filled = fill_defaults(ext, definition("extractor"))
    foreign = kind_keys("digits") | {"dataset"} if ext["kind"] == "inception" else kind_keys("inception")
    return {key: value for key, value in filled.items() if key in ext or key not in foreign}


def source_keys(source: str) -> set[str]:
    """Keys a data set of ``source`` accepts (the schema's ``x-sources``; keys without it: every source)."""
    properties = definition("dataset")["properties"]
    return {key for key, node in properties.items() if source in node.get("x-sources", [source])}


def dataset_key_problems(ds: dict[str, Any], where: str) -> list[str]:
    """Keys written for a source that does not read them."""
    allowed = source_keys(ds["source"])
    return [
        f"{where}.{key}: source {ds['source']} does not use it (only {', '.join(definition('dataset')['properties'][key]['x-sources'])}); remove it"
        for key in ds
        if key not in allowed
    ]


def config_cross_problems(config: dict[str, Any]) -> list[str]:
    """Every cross-field problem of a filled config (references between blocks, level order, shards...)."""
    problems = []
    for name, ds in config["datasets"].items():
        problems += dataset_problems(ds, f"datasets.{name}")
    used = {exp["extractor"] for exp in config["experiments"].values()}
    for name in sorted(used & set(config["extractors"])):
        ext = config["extractors"][name]
        if ext["kind"] == "digits":
            problems += _reference(config, f"extractors.{name}.dataset", ext["dataset"], "datasets")
    for name in config["experiments"]:
        problems += experiment_problems(config, name)
    toy = config.get("toy", {})
    ssm = toy.get("ssm_noise")
    if ssm and ssm["enabled"]:
        problems += _reference(config, "toy.ssm_noise.dataset", ssm["dataset"], "datasets")
    if "gmm" in toy:
        problems += gmm_problems(toy["gmm"], "toy.gmm")
    modes = toy.get("langevin_modes")
    if modes:
        for label, spec in modes["schedules"].items():
            problems += schedule_problems(spec, f"toy.langevin_modes.schedules.{label}")
    figures = config.get("figures", {})
    for kind, block in figures.items():
        unknown = sorted(set(block.get("experiments") or []) - set(config["experiments"]))
        if unknown:
            problems.append(
                f"figures.{kind}.experiments: unknown experiment(s) {', '.join(unknown)} (known: {', '.join(config['experiments'])})"
            )
    sweep = figures.get("sweep", {}).get("experiment")
    if sweep is not None:
        problems += _reference(config, "figures.sweep.experiment", sweep, "experiments")
        problems += sweep_problems(figures["sweep"], config["experiments"].get(sweep))
    eps_sweep = toy.get("eps_sweep")
    if eps_sweep:
        problems += schedule_problems(eps_sweep["schedule"], "toy.eps_sweep.schedule")
    timed = (config.get("report", {}).get("sample_timing") or {}).get("experiments") or []
    for name in timed:
        problems += _reference(config, "report.sample_timing.experiments", name, "experiments")
    return problems


def is_trained(exp: dict[str, Any]) -> bool:
    """Whether an experiment trains its model: one with a ``checkpoint:`` block evaluates that checkpoint instead."""
    return "checkpoint" not in exp


def sample_timing_jobs(config: dict[str, Any]) -> list[tuple[str, int]]:
    """(experiment, image count) of [Re] Table 1's timed sampling jobs: none without
    ``report.sample_timing``, every experiment when it names none."""
    block = config.get("report", {}).get("sample_timing")
    if block is None:
        return []
    names = block.get("experiments") or list(config["experiments"])
    return [(name, int(count)) for name in names for count in block["counts"]]


def sweep_problems(sweep: dict[str, Any], exp: dict[str, Any] | None) -> list[str]:
    """The eps x T sweep ([Re] Fig. 8) must hold the cell its experiment samples with."""
    if exp is None:
        return []  # an unknown experiment, reported by the reference check
    problems = []
    for key in ("eps", "n_steps_each"):
        grid = sweep.get(key, [])
        if not any(math.isclose(v, exp["sampling"][key], rel_tol=1e-9) for v in grid):
            problems.append(
                f"figures.sweep.{key} {grid} lacks {exp['sampling'][key]:g}, the "
                f"experiments.{sweep['experiment']}.sampling.{key} the experiment samples with; add it "
                "so the sweep contains the setting the results table reports"
            )
    return problems


# ----------------------------------------------------------------------------- entry points


def _raise(problems: list[str], what: str) -> None:
    shown = problems[:MAX_PROBLEMS]
    more = f"\n  ... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
    raise SettingsError(f"{what} cannot run:\n  - " + "\n  - ".join(shown) + more)


def config_problems(config: Any) -> tuple[dict[str, Any], list[str]]:
    """``(filled config, problems)``: schema problems first; cross-field checks only on a well-formed config."""
    problems = list(_schema_problems(config, schema()))
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
        _raise(problems, "The config")
    return filled


def check_block(name: str, settings: Any, where: str | None = None) -> dict[str, Any]:
    """One block (``sampling``, ``training``, ...) with defaults filled in, checked as the workflow checks it.

    ``where`` prefixes the key paths in messages (default: the block's name).
    """
    where = where or name
    node = definition(name)
    problems = list(_schema_problems(settings if settings is not None else {}, node, where))
    if not problems:
        filled = fill_defaults(settings or {}, node)
        if name in BLOCK_CHECKS:
            problems = BLOCK_CHECKS[name](filled, where)
        elif name == "extractor":
            problems, filled = extractor_problems(settings, where), fill_extractor(settings)
    if problems:
        _raise(problems, f"The {name} settings")
    return filled


# ----------------------------------------------------------------------------- documentation


def _type_name(node: dict[str, Any]) -> str:
    if "anyOf" in node:
        return " or ".join(_type_name(option) for option in node["anyOf"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else kind


def _yaml_cell(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return f"`{text.removesuffix('...').strip()}`"


def _rows(node: dict[str, Any], prefix: str) -> Iterator[tuple[str, ...]]:
    """``(key path, type, default, allowed, description)`` of every setting under ``node``."""
    for key, sub in _resolve(node).get("properties", {}).items():
        sub = _resolve(sub)
        path = f"{prefix}.{key}" if prefix else key
        if sub.get("type") == "object" and "properties" in sub:
            yield from _rows(sub, path)
            continue
        default = _yaml_cell(sub["default"]) if "default" in sub else ""
        description = " ".join(sub.get("description", "").split())
        if sub.get("type") == "object" and isinstance(sub.get("additionalProperties"), dict):
            yield (path, "mapping", default, "", description)
            yield from _rows(sub["additionalProperties"], f"{path}.NAME")
            continue
        allowed = sub.get("enum") or sub.get("items", {}).get("enum") or []
        yield (path, _type_name(sub), default, ", ".join(map(str, allowed)), description)


def parameter_table() -> str:
    """Every setting as a Markdown table (key path, type, default, allowed values, description)."""
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for row in _rows(schema(), ""):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in (f"`{row[0]}`", *row[1:])) + " |")
    return "\n".join(lines) + "\n"


TABLE_BEGIN = "<!-- parameter table: generated by `python -m ncsn.settings config/README.md`; do not edit -->"
TABLE_END = "<!-- end of parameter table -->"


def with_parameter_table(text: str) -> str:
    """``text`` (a Markdown page holding the table markers) with the current table between them."""
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise NcsnError(f"the page has no parameter table markers; add the lines\n{TABLE_BEGIN}\n{TABLE_END}")
    head, rest = text.split(TABLE_BEGIN, 1)
    return f"{head}{TABLE_BEGIN}\n{parameter_table()}{TABLE_END}{rest.split(TABLE_END, 1)[1]}"
