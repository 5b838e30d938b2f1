"""The documentation's promises: README size, links that resolve, one version and licence."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_is_at_most_12_kib():
    assert len((ROOT / "README.md").read_bytes()) <= 12 * 1024


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_that_exist(doc):
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{doc.name} links to missing files: {broken}"


def test_docs_named_in_configs_code_and_workflow_exist():
    """Comments and messages that send a reader to docs/*.md name files that are there."""
    sources = [
        *(ROOT / "config").glob("*.yaml"),
        ROOT / "Snakefile",
        ROOT / "Makefile",
        *(ROOT / "workflow").rglob("*.smk"),
        *(ROOT / "pipeline_src").rglob("*.py"),
        *(ROOT / "pipeline_src").rglob("*.yaml"),
        *(ROOT / "benchmarks").rglob("*.py"),
    ]
    named = {
        (src.relative_to(ROOT), ref) for src in sources for ref in re.findall(r"docs/[\w/.-]+\.md", src.read_text())
    }
    assert named, "no docs/*.md reference found: the pattern is wrong"
    missing = sorted((str(src), ref) for src, ref in named if not (ROOT / ref).is_file())
    assert not missing, missing


def test_citation_and_licence_agree_with_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == project["version"] == metadata.version("ncsn-pipeline")
    assert citation["license"] == project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


# ------------------------------------------------------------------ YAML examples


YAML_BLOCK = re.compile(r"```ya?ml\n(.*?)```", re.DOTALL)
INLINE_SETTING = re.compile(r"`(\w+): ([^`{}\[\],]+)`")  # `eps: 4.0e-5` in running text


def merged(base: dict, block: dict) -> dict:
    """``base`` with ``block`` laid over it, mapping by mapping."""
    out = dict(base)
    for key, value in block.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def example_config(block: dict) -> dict:
    """A documented block inside a whole config (the default's and the paper's data sets,
    extractors and experiments); a bare experiment block becomes one experiment."""
    from ncsn.settings import definition

    default, paper = (yaml.safe_load((ROOT / "config" / name).read_text()) for name in ("config.yaml", "paper.yaml"))
    base = {
        **paper,
        "datasets": {**default["datasets"], **paper["datasets"]},
        "extractors": {**default["extractors"], **paper["extractors"]},
        "experiments": {**default["experiments"], **paper["experiments"]},
    }
    if set(block) <= set(definition("experiment")["properties"]) - {"dataset"}:
        block = {"experiments": {"example": {"dataset": "cifar10", "extractor": "inception", **block}}}
    return merged(base, block)


def yaml_examples() -> list[tuple[str, str]]:
    return [
        (f"{doc.relative_to(ROOT)}#{n}", text)
        for doc in DOCS
        for n, text in enumerate(YAML_BLOCK.findall(doc.read_text()))
    ]


@pytest.mark.parametrize("where, text", yaml_examples(), ids=[where for where, _ in yaml_examples()])
def test_every_yaml_example_in_the_docs_passes_the_settings_check(where, text):
    from ncsn.settings import config_problems

    block = yaml.safe_load(text)
    _, problems = config_problems(example_config(block))
    assert not problems, f"{where}:\n" + "\n".join(problems)


def test_settings_written_inline_in_the_docs_are_yaml_numbers_where_they_look_like_numbers():
    """`eps: 4e-5` in a sentence is copied into configs: YAML 1.1 reads it as a string."""
    wrong = [
        f"{doc.relative_to(ROOT)}: `{key}: {value}`"
        for doc in DOCS
        for key, value in INLINE_SETTING.findall(doc.read_text())
        if re.fullmatch(r"[-+]?[\d.]+[eE][-+]?\d+", value) and isinstance(yaml.safe_load(value), str)
    ]
    assert not wrong, wrong


def test_a_number_yaml_reads_as_a_string_gets_an_error_saying_how_to_write_it():
    from ncsn.settings import SettingsError, check_block

    with pytest.raises(SettingsError, match=r"sampling\.eps: '4e-5' is a string, not a number.*write 4\.0e-5"):
        check_block("sampling", yaml.safe_load("eps: 4e-5"))
    assert check_block("sampling", yaml.safe_load("eps: 4.0e-5"))["eps"] == 4.0e-5
    with pytest.raises(SettingsError, match=r"training\.iterations: '2e5' is a string.*write 200000"):
        check_block("training", yaml.safe_load("iterations: 2e5"))
