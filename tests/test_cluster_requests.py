"""What each submitted job asks SLURM for, read off a dry run of the slurm executor (``-n``: nothing is
submitted, no cluster needed) with a site profile beside the workflow's own, the documented
``--profile SITE --workflow-profile workflow/profiles/slurm`` (docs/running.md, "Site profiles").

- The site profile's partition and account reach every job whose config leaves them unset; what
  the config names wins; nothing is ever set empty.
- ``cluster.gpu_model`` and ``cluster.gpu_constraint`` go to every GPU job in both request styles
  (``--gpus=MODEL:1``, ``--gres=gpu:MODEL:1``), never to a CPU-only one.
- Threads and memory come from the ``cluster`` block.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import ROOT, TINY, snakemake, write_config

from ncsn.steps import RULES, local_rules

PROFILE = ROOT / "workflow/profiles/slurm"
CPU_RULES = {"train_extractor"}
GPU_RULES = {"train", "ref_stats", "score", "heldout_loss", "sample", "evaluate"}
LOCAL = set(local_rules(RULES)) | {"all"}  # they run in the head process: never submitted
TARGET = "results/eval/digits/tiny/metrics.json"
# A job of a rule, or of a group (indented); local rules are listed the same way in a dry run.
JOB = re.compile(r"^\s*rule (\w+):\n(.*?)^\s+resources: ([^\n]*)$", re.M | re.S)


def site_profile(folder: Path, **defaults: str) -> Path:
    """A site's own profile: its partition and account as default resources for every job."""
    folder.mkdir()
    lines = "".join(f"  - {key}={value}\n" for key, value in defaults.items())
    (folder / "config.yaml").write_text(f"executor: slurm\nslurm-no-account: false\ndefault-resources:\n{lines}")
    return folder


def submitted(tmp_path: Path, cluster: dict, *site: str) -> dict[str, list[dict[str, str]]]:
    """Rule -> the resources of each of its submitted jobs, as a dry run of the slurm executor plans them."""
    tmp_path.mkdir(exist_ok=True)
    # stated minutes for every rule: the dry run needs no cost model (torch's FLOP counting)
    cluster = {"runtime": dict.fromkeys(GPU_RULES | CPU_RULES, 10)} | cluster
    config = write_config(tmp_path / "config.yaml", TINY | {"device": "auto", "cluster": cluster})
    run = snakemake(tmp_path, config, *site, "--workflow-profile", str(PROFILE), "-n", "--", TARGET)
    assert run.returncode == 0, run.stdout[-3000:]
    jobs: dict[str, list[dict[str, str]]] = {}
    for rule, _, resources in JOB.findall(run.stdout):
        if rule in LOCAL:
            continue
        fields = dict(item.split("=", 1) for item in resources.split(", "))
        jobs.setdefault(rule, []).append(fields)
    assert GPU_RULES | CPU_RULES <= jobs.keys(), sorted(jobs)
    return jobs


def test_a_site_profiles_partition_and_account_reach_every_job_the_config_leaves_open(tmp_path):
    site = site_profile(tmp_path / "site", slurm_partition="big", slurm_account="mylab")
    jobs = submitted(tmp_path / "a", {}, "--profile", str(site))
    for rule, each in jobs.items():
        for resources in each:
            assert resources["slurm_partition"] == "big" and resources["slurm_account"] == "mylab", (rule, resources)
    # what the config names wins, for the jobs it names it for; the rest keep the site's
    named = submitted(tmp_path / "b", {"gpu_partition": "gpu", "account": "proj1"}, "--profile", str(site))
    for rule, each in named.items():
        for resources in each:
            assert resources["slurm_account"] == "proj1", (rule, resources)
            assert resources["slurm_partition"] == ("gpu" if rule in GPU_RULES else "big"), (rule, resources)


@pytest.mark.parametrize(
    "style, expected",
    [
        ("gpus", {"gpu": "1", "gpu_model": "a100", "constraint": "ib"}),  # the plugin: --gpus=a100:1 -C ib
        ("gres", {"gpu": "0", "gres": "gpu:a100:1", "constraint": "ib"}),  # --gres=gpu:a100:1 -C ib
    ],
)
def test_a_gpu_model_and_constraint_go_to_every_gpu_job_in_both_request_styles_and_never_to_cpu_jobs(
    tmp_path, style, expected
):
    """Without a site profile and with the config naming no partition or account, nothing is set
    empty either; memory per job comes from the cluster block."""
    cluster = {"gpu_request": style, "gpu_model": "a100", "gpu_constraint": "ib", "mem_mb": {"train": 30000}}
    jobs = submitted(tmp_path, cluster)
    for rule, each in jobs.items():
        for resources in each:
            assert "slurm_partition" not in resources and "slurm_account" not in resources, (rule, resources)
            assert all(value != "" for value in resources.values()), (rule, resources)
            if rule in CPU_RULES:
                assert not {"gpu", "gres", "gpu_model", "constraint"} & resources.keys(), (rule, resources)
            else:
                assert {k: resources.get(k) for k in expected} == expected, (rule, resources)
                assert ("gpu_model" in resources) == (style == "gpus"), (rule, resources)
    assert [r["mem_mb"] for r in jobs["train"]] == ["30000"] and jobs["evaluate"][0]["mem_mb"] == "16000"
