"""The artifact contract (``ncsn.records``): every record kind round-trips, a file of another format
version or a damaged one names the step to rerun, and no record is written or read anywhere else."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from ncsn import records
from ncsn.errors import NcsnError
from ncsn.records import FORMAT_VERSION, KINDS, SAMPLE_SHARD, SCORE, SELECTION, VERSION_FIELD, score_draw

ROOT = Path(__file__).resolve().parents[1]

CONTRACT = "pipeline_src/ncsn/records.py"
# Functions (by name, wherever they live) that may call json.load(s)/json.dump(s): none of them
# reads or writes a record one job passes to another.
ALLOWED = {
    "parse_json_settings": "parses --settings JSON (settings, checked by ncsn.settings)",
    "settings_json": "workflow/rules/common.smk: a config block as --settings for a command",
    "measured_peaks": "ncsn.estimate: benchmarks/results/gpu.json, a benchmark result, not a job's output",
    "measured_efficiency": "ncsn.estimate: the same benchmark result",
    "_disk_cached": "ncsn.workload: a cache of network counts across processes, no job's output",
    "stored": "ncsn.workload: the same cache, read",
}
JSON_CALLS = {"load", "loads", "dump", "dumps"}
TEXT_PATTERN = re.compile(r"\bjson\.(load|loads|dump|dumps)\b|\b(read_json|write_json)\b|\bpython3? -c\b")


def sample_record(kind) -> dict:
    """A record with every field of ``kind`` and one the contract does not name (kept, not checked)."""
    return {**{field: [index, f"v{index}"] for index, field in enumerate(kind.fields)}, "extra": {"a": None}}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_kind_round_trips_with_its_format_version(kind, tmp_path):
    data = sample_record(kind)
    path = tmp_path / "sub" / "record.json"
    kind.write(path, data)
    on_disk = json.loads(path.read_text())
    assert on_disk[VERSION_FIELD] == FORMAT_VERSION == 1
    assert kind.read(path) == data
    assert kind.loads(kind.dumps(data), "inside.npz") == data
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]  # atomic: no temporary file left


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_writer_refuses_a_record_without_its_fields(kind, tmp_path):
    data = sample_record(kind)
    del data[kind.fields[-1]]
    with pytest.raises(ValueError, match=re.escape(kind.fields[-1])):
        kind.write(tmp_path / "r.json", data)
    assert not (tmp_path / "r.json").exists()


def _damaged(kind) -> dict[str, tuple[str, str]]:
    good = {VERSION_FIELD: FORMAT_VERSION, **sample_record(kind)}
    return {
        "older run": (json.dumps({k: v for k, v in good.items() if k != VERSION_FIELD}), "no format version"),
        "other version": (json.dumps({**good, VERSION_FIELD: FORMAT_VERSION + 1}), "version 2"),
        "bad json": ('{"truncated": ', "not valid JSON"),
        "not an object": ("[1, 2]", "not an object"),
        "missing field": (json.dumps({k: v for k, v in good.items() if k != kind.fields[0]}), kind.fields[0]),
    }


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
@pytest.mark.parametrize("case", ["older run", "other version", "bad json", "not an object", "missing field"])
def test_other_version_or_damage_names_the_file_and_the_step_to_rerun(kind, case, tmp_path):
    text, problem = _damaged(kind)[case]
    path = tmp_path / "record.json"
    path.write_text(text)
    with pytest.raises(NcsnError, match=re.escape(problem)) as caught:
        kind.read(path)
    message = str(caught.value)
    assert str(path) in message and f"rerun {kind.step}" in message


def test_a_missing_record_names_the_step_that_writes_it(tmp_path):
    with pytest.raises(NcsnError, match=r"does not exist; run rule select or given_checkpoint"):
        SELECTION.read(tmp_path / "selection.json")


def test_a_shard_of_an_older_run_asks_for_the_sample_step_again(tmp_path):
    """A shard written before records had versions (meta without format_version): rerun, never a misread."""
    from ncsn.generate import load_shard

    meta = {field: 1 for field in SAMPLE_SHARD.fields}
    path = tmp_path / "shard_0_of_1.npz"
    np.savez(path, images=np.zeros((1, 2, 2, 1), np.uint8), meta=np.array(json.dumps(meta)))
    with pytest.raises(NcsnError, match=rf"{re.escape(str(path))} has no format version.*rerun rule sample"):
        load_shard(path)


def test_a_score_draw_compares_the_same_as_written_and_as_built():
    """``ncsn score --reuse`` compares draws through one projection, so an identity holding tuples (as
    built) equals the lists a file holds, and any other sampler setting, seed or reference differs."""
    built = {
        "checkpoint": "ckpt_10.pt",
        "num_samples": 8,
        "sampling": {"sampling": {"eps": 2e-5, "levels": (1, 2)}, "seed": 0, "stream": "selection"},
        "extractor": {"kind": "digits", "shape": (8, 8)},
        "reference": {"path": "ref.npz", "data": "train.npz", "num_images": 4},
    }
    written = SCORE.loads(SCORE.dumps({**dict.fromkeys(SCORE.fields), **built}), "score.json")
    written["sampling"].update(device="cpu", seconds=1.5)  # how long it took is no part of the draw
    assert score_draw(written) == score_draw(built)
    for key, other in [("seed", 1), ("stream", "evaluation")]:
        assert score_draw({**built, "sampling": {**built["sampling"], key: other}}) != score_draw(built)
    assert score_draw({**built, "reference": {"path": "other.npz"}}) != score_draw(built)


def _json_use(node: ast.AST, aliases: set[str]) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module == "json" and any(a.name in JSON_CALLS for a in node.names)
    if isinstance(node, ast.Attribute):
        return node.attr in JSON_CALLS and isinstance(node.value, ast.Name) and node.value.id in aliases
    return isinstance(node, ast.Name) and node.id in ("read_json", "write_json")


def record_io(text: str) -> list[tuple[int, str]]:
    """(line, enclosing function) of every place in ``text`` that reads or writes JSON by hand:
    json.load(s)/dump(s) (any alias of the module) and read_json/write_json where ``text`` is Python
    (a module, or a rule file of plain Python such as common.smk); in any other rule file the same
    names and inline ``python -c``, found as text."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return [(n, "") for n, line in enumerate(text.splitlines(), 1) if TEXT_PATTERN.search(line)]
    aliases = {"json"} | {
        a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name == "json"
    }
    found = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        if _json_use(node, aliases):
            found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "")
    return sorted(found)


def record_io_outside_the_contract(root: Path) -> dict[str, list[tuple[int, str]]]:
    """Per file under ``root``'s pipeline_src, workflow and Snakefile: the hand-made JSON reads and
    writes outside ncsn/records.py and the allowed functions."""
    files = [*(root / "pipeline_src").rglob("*.py"), *(root / "workflow").rglob("*.smk"), root / "Snakefile"]
    found = {}
    for path in files:
        name = path.relative_to(root).as_posix()
        if path.is_file() and name != CONTRACT:
            places = [(line, f) for line, f in record_io(path.read_text()) if f not in ALLOWED]
            if places:
                found[name] = places
    return found


def test_no_record_is_written_or_read_outside_ncsn_records():
    assert record_io_outside_the_contract(ROOT) == {}
    sources = [*(ROOT / "pipeline_src").rglob("*.py"), ROOT / "workflow/rules/common.smk"]
    used = {f for path in sources for _, f in record_io(path.read_text())}
    assert set(ALLOWED) <= used, f"the allow-list names functions that no longer read JSON: {set(ALLOWED) - used}"


def test_the_scan_finds_a_planted_reader_and_inline_python(tmp_path):
    rules = tmp_path / "workflow" / "rules"
    rules.mkdir(parents=True)
    (rules / "x.smk").write_text("rule x:\n    shell:\n        \"python -c 'import json' {input}\"\n")
    package = tmp_path / "pipeline_src" / "ncsn"
    package.mkdir(parents=True)
    (package / "a.py").write_text("import json as j\n\n\ndef f():\n    return j.loads('{}')\n")
    (package / "b.py").write_text("from json import load\n")
    (package / "c.py").write_text("text = 'json.loads in a string is fine'\n\n\ndef settings_json(x):\n    return x\n")
    (package / "d.py").write_text("import json\n\n\ndef parse_json_settings(text):\n    return json.loads(text)\n")
    (tmp_path / "Snakefile").write_text("x = json.load(open('selection.json'))\n")
    assert record_io_outside_the_contract(tmp_path) == {
        "Snakefile": [(1, "")],
        "pipeline_src/ncsn/a.py": [(5, "f")],
        "pipeline_src/ncsn/b.py": [(1, "")],
        "workflow/rules/x.smk": [(3, "")],
    }


# the files whose "fid", "kid", ... are columns of a table (results, seeds, fid_vs_checkpoint, GPU benchmark rows)
# or torch-fidelity's metric names, not fields of a record
TABLE_READERS = {
    "plots.py",
    "comparisons.py",
    "estimate.py",
    "report/render.py",
    "report/tables.py",
    "metrics/extractors.py",
}


def spelled_quality_fields(path: Path) -> list[str]:
    """Where a file spells a quality field's name as a key: a subscript, a ``.get`` argument or a dict key."""
    names = set(records.QUALITY)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        keys: list[ast.AST] = []
        if isinstance(node, ast.Subscript):
            keys = [node.slice]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" and node.args:
            keys = [node.args[0]]
        elif isinstance(node, ast.Dict):
            keys = [key for key in node.keys if key is not None]
        found += [
            f"{path}:{key.lineno} {key.value!r}" for key in keys if isinstance(key, ast.Constant) and key.value in names
        ]
    return found


def test_the_quality_fields_are_named_in_ncsn_records_only():
    """Producers and readers of a score, the final metrics and fidelity's record use ncsn.records' names."""
    package = ROOT / "pipeline_src" / "ncsn"
    files = [
        p for p in package.rglob("*.py") if p.relative_to(package).as_posix() not in TABLE_READERS | {"records.py"}
    ]
    assert [spot for path in files for spot in spelled_quality_fields(path)] == []


def test_the_quality_builder_gives_exactly_the_quality_fields():
    from ncsn.metrics.fidelity import Statistics, quality

    rng = np.random.default_rng(0)
    features = rng.normal(size=(64, 4))
    mu, sigma = features.mean(0), np.cov(features, rowvar=False)
    stats = Statistics(64, (mu, sigma), (mu, sigma), is_per_split=[2.0, 3.0], features=features.astype(np.float32))
    assert tuple(quality(stats, stats)) == records.QUALITY


def test_the_spelling_scan_finds_a_planted_field(tmp_path):
    planted = tmp_path / "reader.py"
    planted.write_text('def f(score):\n    return score["fid"], score.get("kid"), {"recall": 1}\n')
    assert len(spelled_quality_fields(planted)) == 3
