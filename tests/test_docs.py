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
