"""Docs that cannot drift: every name the docs spell in code resolves against the code.

README.md, config/README.md and docs/*.md name modules, functions, commands, options, config
keys, Make targets, repo files and output files in backticks and code blocks. Each of them is
looked up here: modules and functions by import (and the parameters a documented call names in
its signature), ``ncsn`` commands and their options in the real argparse parsers, Snakemake
options in Snakemake's parser, config keys in the schema, Make targets in the Makefile, repo
paths on disk, and output file names in the code that writes them. Each documented
``python -m ncsn ...`` command line is parsed (never run) by its command's parser.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import inspect
import io
import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import yaml

from ncsn.cli import COMMANDS
from ncsn.settings import ALIASES, RENAMED_TO, schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
IDENT = r"[A-Za-z_]\w*"
PLACEHOLDER = re.compile(r"^(NAME|<name>|\*|DATASET|EXP|EXPERIMENT|EXTRACTOR|HASH|ROOT|DIR|\.\.\.|\{[^}]*\})$")
FILE_SUFFIXES = (
    "yaml yml json csv npz pt pth md py smk toml png pdf tex tsv txt zip gz jpg sif lock tmp cff html conf log"
).split()

# Names of other projects that no code here spells: the official code's mixture class, a CIFAR-10
# file, scipy's matrix square root, and Slurm's and a login node's own vocabulary.
FOREIGN = {"GMMDistAnneal", "data_batch_5", "sqrtm", "sacct", "tmux", "screen", "PartitionTimeLimit", "PreemptMode"}
# Snakemake profile keys the site recipes name (a profile of the reader's, not this project's).
FOREIGN |= {"set-resources"}
# sbatch options the cluster recipes name (no command here has them).
SBATCH_OPTIONS = {"--gres", "--requeue", "--gpus", "--output", "--signal", "--constraint"}
# Calls written with names of the reader's choosing (a model, a score function) or of torch/Python.
FOREIGN_CALLS = {"model", "score_fn", "round"}
EXTERNAL_PACKAGES = {"torch", "np", "numpy", "scipy", "cleanfid", "torch_fidelity", "os", "torchvision"}


# ----------------------------------------------------------------------------- what the docs say


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    return FENCE.findall(text)


def inline_spans(text: str) -> list[tuple[str, str]]:
    """``(span, its line)`` for every inline code span outside fenced blocks."""
    found = []
    for line in FENCE.sub("", text).splitlines():
        found += [(span, line) for span in SPAN.findall(line)]
    return found


def expand_braces(text: str) -> list[str]:
    """``a.{b,c}.d`` -> ``[a.b.d, a.c.d]`` (a brace without a comma is a placeholder and stays)."""
    match = re.search(r"\{([^{}]*,[^{}]*)\}", text)
    if not match:
        return [text]
    return [
        out
        for choice in match.group(1).split(",")
        for out in expand_braces(text[: match.start()] + choice.strip() + text[match.end() :])
    ]


def command_lines(block: str) -> list[str]:
    """The commands of a shell block: continuation lines and quotes over several lines joined."""
    lines, pending = [], ""
    for line in block.replace("\\\n", " ").splitlines():
        pending = f"{pending} {line.strip()}".strip()
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quote that closes on a later line
            continue
        lines.append(pending)
        pending = ""
    return [line for line in lines + [pending] if line]


# ----------------------------------------------------------------------------- what the code has


@cache
def ncsn_parsers() -> dict[str, argparse.ArgumentParser]:
    parsers = {}
    for name, (module, help_text) in COMMANDS.items():
        # no abbreviations: the docs spell every option in full (argparse would take --num-shard)
        parser = argparse.ArgumentParser(prog=f"ncsn {name}", description=help_text, allow_abbrev=False)
        importlib.import_module(f"ncsn.commands.{module}").add_arguments(parser)
        parsers[name] = parser
    return parsers


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


@cache
def snakemake_parser() -> argparse.ArgumentParser:
    from snakemake.cli import get_argument_parser

    parser = get_argument_parser()
    parser.allow_abbrev = False
    return parser


@cache
def known_options() -> set[str]:
    """Every option of an ``ncsn`` command, of Snakemake and of pytest the docs may name alone."""
    options = set(option_strings(snakemake_parser()))
    for parser in ncsn_parsers().values():
        options |= option_strings(parser)
    return options | SBATCH_OPTIONS | {"--version", "--no-deps", "--nv", "--report"}


@cache
def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


@cache
def rule_names() -> set[str]:
    text = "\n".join(p.read_text() for p in [ROOT / "Snakefile", *(ROOT / "workflow").rglob("*.smk")])
    return set(re.findall(r"^\s*(?:rule|checkpoint)\s+(\w+)", text, re.M)) | set(re.findall(r"^def (\w+)", text, re.M))


@cache
def schema_paths() -> list[tuple[str, ...]]:
    """Every key path of the schema, a data set/experiment/... name as ``*`` (``experiments.*.model.ngf``)."""
    defs = schema()["$defs"]

    def resolve(node):
        while "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def walk(node, prefix, depth=0):
        node = resolve(node)
        for option in node.get("anyOf", []) + node.get("oneOf", []):
            yield from walk(option, prefix, depth + 1)
        for key, sub in node.get("properties", {}).items():
            yield (*prefix, key)
            yield from walk(sub, (*prefix, key), depth + 1)
        if isinstance(node.get("additionalProperties"), dict) and depth < 12:
            yield (*prefix, "*")
            yield from walk(node["additionalProperties"], (*prefix, "*"), depth + 1)
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], prefix, depth + 1)

    return sorted(set(walk(schema(), ())))


@cache
def schema_words() -> set[str]:
    """Every key and every allowed value of the schema."""
    words = {part for path in schema_paths() for part in path}

    def keys(node):
        if isinstance(node, dict):
            words.update(map(str, node))
            for value in node.values():
                keys(value)
        elif isinstance(node, list):
            for item in node:
                keys(item)

    keys(schema())

    def values(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("enum", "const", "default"):
                    yield from (value if isinstance(value, list) else [value])
                yield from values(value)
        elif isinstance(node, list):
            for item in node:
                yield from values(item)

    return words | {str(v) for v in values(schema()) if isinstance(v, (str, bool))}


def is_config_key(dotted: str) -> bool:
    """``dotted`` (``training.lr``, ``experiments.NAME.model.ngf``) is the end of a schema key path."""
    parts = tuple("*" if PLACEHOLDER.match(p) else p for p in dotted.split("."))
    return any(
        len(path) >= len(parts)
        and all(want == "*" or have in ("*", want) for want, have in zip(parts, path[-len(parts) :]))
        for path in schema_paths()
    )


CODE_DIRS = ("pipeline_src", "workflow", "benchmarks", "tests")


@cache
def code_files() -> list[Path]:
    files = [ROOT / "Snakefile", ROOT / "Makefile", ROOT / "pyproject.toml", *(ROOT / "config").glob("*.yaml")]
    for folder in CODE_DIRS:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".smk", ".yaml", ".sh", ".rst")]
    return [p for p in files if p.name != Path(__file__).name]


@cache
def python_vocabulary() -> set[str]:
    """Names the Python code defines or uses (functions, classes, variables, parameters, attributes, keys)."""
    words: set[str] = set()
    for path in code_files():
        if path.suffix != ".py":
            continue
        words.add(path.stem)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                words.add(node.name)
            elif isinstance(node, ast.Name):
                words.add(node.id)
            elif isinstance(node, ast.Attribute):
                words.add(node.attr)
            elif isinstance(node, ast.arg):
                words.add(node.arg)
            elif isinstance(node, ast.keyword) and node.arg:
                words.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                words.add(node.value)
                words.update(re.findall(r"[\w.-]+", node.value))
    for path in (ROOT / "config").glob("*.yaml"):  # the shipped configs' names of data sets, experiments, ...
        words |= set(re.findall(r"^\s*([\w-]+):", path.read_text(), re.M))
    return words


@cache
def code_text() -> str:
    return "\n".join(p.read_text(errors="replace") for p in code_files())


@cache
def smk_words() -> set[str]:
    """Words of the workflow, its profiles, the Makefile and the shell scripts."""
    files = [ROOT / "Snakefile", ROOT / "Makefile", *(ROOT / "workflow").rglob("*"), *ROOT.glob("tests/**/*.sh")]
    return set(re.findall(r"[\w.-]+", "\n".join(p.read_text() for p in files if p.is_file())))


def resolve_object(dotted: str):
    """The object a dotted name (``ncsn.x.y``, ``torch.compile``) names, or None."""
    parts = dotted.split(".")
    if parts[0] == "np":
        parts[0] = "numpy"
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


def ncsn_object(dotted: str):
    """A dotted name resolved from ``ncsn`` or one of its packages (``heldout.heldout_loss``)."""
    if dotted.startswith("ncsn."):
        return resolve_object(dotted)
    for package in ("ncsn", "ncsn.metrics", "ncsn.data", "ncsn.models", "ncsn.toy", "ncsn.commands"):
        if (found := resolve_object(f"{package}.{dotted}")) is not None:
            return found
    return None


@cache
def defined_functions() -> dict[str, list[list[str]]]:
    """Function/class name -> the parameter lists of its definitions in the library."""
    found: dict[str, list[list[str]]] = {}
    for path in (ROOT / "pipeline_src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                if a.vararg or a.kwarg:
                    params = ["*"]
                else:
                    params = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
                found.setdefault(node.name, []).append(params)
            elif isinstance(node, ast.ClassDef):
                init = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
                fields = [
                    t.target.id for t in node.body if isinstance(t, ast.AnnAssign) and isinstance(t.target, ast.Name)
                ]
                params = [p.arg for p in init[0].args.args] if init else ["*"] if not fields else ["self", *fields]
                found.setdefault(node.name, []).append(params)
    for path in (ROOT / "workflow").rglob("*.smk"):
        for name, params in re.findall(r"^def (\w+)\(([^)]*)\)", path.read_text(), re.M):
            found.setdefault(name, []).append([p.split(":")[0].split("=")[0].strip() for p in params.split(",")])
    return found


# ----------------------------------------------------------------------------- checks of one name


def call_problem(span: str) -> str | None:
    """``f(a, b=1) -> ...``: ``f`` exists and takes parameters named ``a`` and ``b``."""
    head, _, rest = span.partition("(")
    args = rest.rsplit(")", 1)[0]
    if head in FOREIGN_CALLS or head.split(".")[0] in EXTERNAL_PACKAGES or head.startswith("."):
        return None
    names = []
    for arg in re.split(r",(?![^(\[{]*[)\]}])", args):
        arg = arg.strip()
        if m := re.fullmatch(rf"({IDENT})(=.*)?", arg):
            names.append(m.group(1))
    if "." in head:
        obj = ncsn_object(head)
        if obj is None:
            return f"{head} does not exist"
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params):
            return None
        signatures = [[p.name for p in params]]
    else:
        if head not in defined_functions():
            return f"no function or class {head} in the library"
        signatures = defined_functions()[head]
    if any("*" in sig or set(names) <= set(sig) for sig in signatures):
        return None
    return f"{head} has no parameter(s) {sorted(set(names) - set(signatures[0]))} (it takes {signatures[0]})"


def path_problem(path: str) -> str | None:
    """A repo path exists; an output path's literal parts are spelled in the code that writes it."""
    path = path.rstrip("/").removeprefix("./")
    top = path.split("/")[0]
    if not top or path.startswith(("$", "@", "~")) or "://" in path:
        return None  # a system path, a variable or a URL
    if (ROOT / top).exists() and top not in ("results", "data"):
        if "::" in path:
            file, test = path.split("::")
            found = (ROOT / file).is_file() and f"def {test}(" in (ROOT / file).read_text()
            return None if found else f"no test {test} in {file}"
        pattern = re.sub(r"\{[^}]*\}|NAME|DATASET|EXP(ERIMENT)?|HASH|\.\.\.", "*", path)
        if list(ROOT.glob(pattern)):
            return None
        # not in the repository: a file a command writes there (benchmarks/results/gpu.json) or stale
    for part in path.removeprefix("results/").split("/"):
        for piece in re.split(r"\{[^}]*\}|\*|NAME|DATASET|EXP(?:ERIMENT)?|HASH|ITER|ROOT|DIR|\.\.\.|\?", part):
            piece = piece.strip("_-.")
            if len(piece) > 2 and piece not in code_text():
                return f"{path}: not in the repository, and no code writes or reads '{piece}'"
    return None


def word_problem(word: str) -> str | None:
    """A lone identifier is a config key or value, a command, a rule, a Make target or a name in the code."""
    word = word.strip("`")
    known = (
        word in FOREIGN
        or word == "ncsn"
        or word in schema_words()
        or word in COMMANDS
        or word in rule_names()
        or word in make_targets()
        or word in python_vocabulary()
        or word in smk_words()
    )
    return None if known else f"'{word}' is named nowhere in the code, the schema, the workflow or the Makefile"


def dotted_problem(span: str) -> str | None:
    """``a.b.c``: a config key path, a name in ``ncsn``, or a name in a library the code uses."""
    for name in expand_braces(span):
        name = name.rstrip(".*").removesuffix("()")
        *parent, last = name.split(".")
        old_name = last in RENAMED_TO or last in ALIASES  # the settings name it to say what it became
        if (
            name in python_vocabulary()
            or is_config_key(name)
            or (old_name and is_config_key(".".join(parent)))
            or parent[:1] == []
            or name.split(".")[0] in FOREIGN
        ):
            continue
        if name.split(".")[0] in EXTERNAL_PACKAGES:
            if resolve_object(name) is None:
                return f"{name} does not exist"
            continue
        if ncsn_object(name) is None:
            return f"{name} is neither a config key nor a name in ncsn"
    return None


# ----------------------------------------------------------------------------- command lines


def parse_ncsn(words: list[str], complete: bool = True) -> str | None:
    """Parse (never run) ``ncsn CMD ARGS``; None when the parser accepts it.

    ``complete=False`` (a command named in prose with some of its options) lets required
    arguments be absent but still rejects an unknown option or a wrong value.
    """
    if not words or words[0] not in COMMANDS:
        return f"no command {words[:1]}"
    parser = ncsn_parsers()[words[0]]
    # options and groups of options (--checkpoint | --selection) alike
    required = {action: action.required for action in [*parser._actions, *parser._mutually_exclusive_groups]}
    err = io.StringIO()
    try:
        for action in required:
            action.required = action.required and complete
        with contextlib.redirect_stderr(err):
            parser.parse_args(words[1:])
    except (SystemExit, argparse.ArgumentError) as exc:
        return f"ncsn {' '.join(words)}: {(err.getvalue().strip() or str(exc)).splitlines()[-1]}"
    finally:
        for action, value in required.items():
            action.required = value
    return None


def shell_words(line: str) -> list[str]:
    """A documented command line as argv: comments, ``[...]`` and ``...`` placeholders dropped."""
    line = line.replace("{...}", "{}").replace("[...]", "")
    if not re.match(r"(python|ncsn|snakemake|make|tests/)\b", line):
        return []  # prose or program output in a plain block
    words = shlex.split(line, comments=True)
    return [w.strip("[]") for w in words if w.strip("[]") and w != "..."]


def command_problems(line: str, complete: bool = True) -> list[str]:
    """Check one documented command line of any of the project's entry points."""
    line = re.sub(r"^(sudo |\.venv/bin/|[A-Z_]+=\S+ )+", "", line)
    if line.startswith("#") or not line:
        return []
    if "&&" in line:
        return [p for part in line.split("&&") for p in command_problems(part.strip(), complete)]
    words = shell_words(line)
    if not words:
        return []
    if words[:3] == ["python", "-m", "ncsn"] or words[:1] == ["ncsn"]:
        rest = words[3:] if words[0] == "python" else words[1:]
        return [p] if rest and rest != ["--version"] and (p := parse_ncsn(rest, complete)) else []
    if words[:3] == ["python", "-m", "benchmarks"]:
        known = {p.stem.removeprefix("bench_") for p in (ROOT / "benchmarks").glob("bench_*.py")} | {"gpu"}
        return [f"no benchmark {w}" for w in words[3:] if not w.startswith("-") and w not in known]
    if words[:3] == ["python", "-m", "ncsn.settings"] or words[:3] == ["python", "-m", "pytest"]:
        return [path_problem(w) for w in words[3:] if "/" in w and path_problem(w)]
    if words[:1] == ["make"]:
        return [f"no Make target {w}" for w in words[1:] if "=" not in w and w not in make_targets()]
    if words[:1] == ["snakemake"]:
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                snakemake_parser().parse_args(words[1:])
        except SystemExit:
            return [f"snakemake does not accept: {line}"]
        return [p for w in words if w.startswith("config/") and (p := path_problem(w))]
    if words[0].endswith(".sh"):
        return [p] if (p := path_problem(words[0])) else []
    return []


def yaml_problems(text: str) -> list[str]:
    """Every key of a YAML snippet is a schema key at its place."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []

    def keys(node, prefix):
        if isinstance(node, dict):
            for key, value in node.items():
                yield f"{prefix}.{key}" if prefix else str(key)
                yield from keys(value, f"{prefix}.{key}" if prefix else str(key))

    if not isinstance(data, dict):
        return []
    return [f"config key {key} does not exist" for key in keys(data, "") if not is_config_key(key)]


# ----------------------------------------------------------------------------- one doc


def span_problem(span: str, line: str) -> str | None:
    span = span.strip()
    table_command = re.match(r"\|\s*`([\w-]+)`\s*\|", line)
    if span.startswith("--"):
        if table_command and table_command.group(1) in COMMANDS:
            options = option_strings(ncsn_parsers()[table_command.group(1)])
            bad = [w for w in re.findall(r"(?<![\w-])--[\w-]+", span) if w not in options]
            return f"ncsn {table_command.group(1)} has no option(s) {bad}" if bad else None
        bad = [w for w in re.findall(r"(?<![\w-])--[a-z][\w-]*", span) if w not in known_options()]
        return f"option(s) {bad} exist in no command" if bad else None
    if re.match(r"^(python |ncsn |snakemake |make |\.venv/bin/)", span):
        if re.search(r"\\\||\bN\b|\.\.\.|<", span):
            return None  # a usage pattern with metavariables: its options are checked as words below
        return "; ".join(command_problems(span, complete=False)) or None
    first = span.split()[0]
    if " " in span and first in COMMANDS:  # `sample --num-samples N`, `toy scores`, `figure KIND`
        options = option_strings(ncsn_parsers()[first])
        bad = [w for w in span.split()[1:] if w.startswith("--") and w not in options]
        return f"ncsn {first} has no option(s) {bad}" if bad else None
    if re.fullmatch(r"[\w.]+: .*", span):  # `training.algo: ssm`, `selection: {criterion: loss_topk}`
        key, _, value = span.partition(": ")
        if "." in key:
            return None if is_config_key(key) else f"config key {key} does not exist"
        return "; ".join(yaml_problems(span)) or None
    if re.fullmatch(rf"\.?{IDENT}(\.{IDENT})*\(.*\)( -> .*)?", span):
        return call_problem(span.split(" -> ")[0])
    if " " in span or re.search(r"[=<>^+|\\]", span) or span[0].isdigit():
        return None  # prose, a formula or a value
    if "/" in span or span.split(".")[-1].rstrip("}").split(",")[0].lstrip("{") in FILE_SUFFIXES:
        if "/" not in span:
            return path_problem(span) if not (ROOT / span).exists() else None
        return next((p for p in map(path_problem, expand_braces(span)) if p), None)
    if re.fullmatch(r"[\w{},<>*]+(\.[\w{},<>*]+)+", span) and not span.startswith("."):
        return dotted_problem(span)
    if re.fullmatch(r"[\w-]+", span):
        return word_problem(span)
    return None


def doc_problems(doc: Path) -> list[str]:
    text = doc.read_text()
    problems = [f"`{span}`: {p}" for span, line in inline_spans(text) if (p := span_problem(span, line))]
    for lang, body in fenced_blocks(text):
        if lang in ("bash", "sh", ""):
            problems += [p for line in command_lines(body) for p in command_problems(line)]
        elif lang == "yaml":
            problems += yaml_problems(body)
        elif lang == "python":
            for name in re.findall(r"from (ncsn[\w.]*) import (\w+)", body):
                if resolve_object(".".join(name)) is None:
                    problems.append(f"{'.'.join(name)} does not exist")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_name_in_the_docs_resolves_against_the_code(doc):
    problems = doc_problems(doc)
    assert not problems, f"{doc.relative_to(ROOT)} names what the code does not have:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(
    "stale",
    [
        "Written with `ncsn.io.atomic_write`.",
        "See `missing_data_files`.",
        "Set `experiments.NAME.training.iteratons`.",
        "Run `python -m ncsn sample --num-shard 2 --out x.npz`.",
        "Run `snakemake --configfile config/paper.yaml --max-thread 1`.",
        "Run `make test-quick`.",
        "See `docs/running_old.md`.",
        "Call `ncsn.sampling.annealed_langevin(score_fn, x, sigmas, n_steps=100)`.",
        "| `score` | `--checkpoint ckpt.pt --refstat r.npz` |",
        "```bash\npython -m ncsn sample --selection s.json --num-samples many --out x.npz\n```",
        "```bash\npython -m ncsn sample --num-samples 10 --out x.npz\n```",
        "```yaml\nexperiments:\n  x: {dataset: digits, training: {iteratons: 10}}\n```",
    ],
)
def test_a_stale_name_is_caught(stale, tmp_path):
    """Each of these lines, planted in a doc, fails the check (in a block, a wrong value or a missing required option too)."""
    doc = tmp_path / "doc.md"
    doc.write_text(f"# A page\n\n{stale}\n")
    assert len(doc_problems(doc)) == 1


def test_documented_command_lines_are_parsed():
    """The checker parses command lines for real: a wrong option value fails, a right one passes."""
    assert not command_problems("python -m ncsn toy scores --out-dir x --settings '{}'")
    assert command_problems("python -m ncsn toy no-such-experiment --out-dir x")
    assert command_problems("snakemake --no-such-snakemake-option")
    assert not command_problems("snakemake -n --configfile config/paper.yaml")


def test_the_checker_sees_every_doc_and_block():
    """Guards against a pattern that silently matches nothing."""
    spans = sum(len(inline_spans(doc.read_text())) for doc in DOCS)
    blocks = sum(len(fenced_blocks(doc.read_text())) for doc in DOCS)
    assert spans > 500 and blocks > 20
    assert expand_braces("a.{b,c}.{d,e}") == ["a.b.d", "a.b.e", "a.c.d", "a.c.e"]
