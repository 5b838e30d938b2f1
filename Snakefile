# NCSN (Song & Ermon, 2019) and its [Re] replication, raw data to results table.
#
#   snakemake --cores all                              # embedded default (digits, CPU)
#   snakemake --cores all --configfile config/paper.yaml --resources gpu=2
#
# The rules are thin wrappers of `python -m ncsn <command>`; see docs/ARCHITECTURE.md.

import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version

from ncsn.errors import NcsnError
from ncsn.seeds import workflow_config
from ncsn.settings import SettingsError
from ncsn.steps import local_rules

min_version("9.0")


# A --configfile replaces the default instead of being merged into it (Snakemake
# would otherwise add the default's experiments to the user's). The default is found
# next to this Snakefile, whatever the working directory (--directory).
if not workflow.config_settings.configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


# One definition of every setting (pipeline_src/ncsn/settings/schema.yaml): unknown keys,
# bad values and cross-field problems stop the run here, in a few lines; defaults are filled.
# Then every experiment becomes its runs, one per seed (ncsn.seeds; one run with `seeds: 1`).
try:
    config.update(workflow_config(config))
except (SettingsError, NcsnError) as err:
    raise WorkflowError(str(err)) from None


# `python` in every job is the one running Snakemake, where `ncsn` is installed (from
# requirements-lock.txt): that environment is the jobs' software. There is no container image
# (docs/development.md, "Software deployment", says why).
shell.prefix(
    f"set -euo pipefail; export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH; "
)


include: "workflow/rules/common.smk"
include: "workflow/rules/cluster.smk"


wildcard_constraints:
    dataset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    experiment=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    extractor=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    iteration=r"\d+",
    k=r"\d+",
    K=r"\d+",


# Missing data or weights: a dry run (-n) lists them and plans; a real run stops in
# `onstart` (called before the first job, never on a dry run) on those its jobs need, and on
# Inception files whose SHA-256 is not the published one.
_missing = missing_local_files(config)
if _missing:
    logger.warning(
        "These inputs are missing (a dry run plans anyway; a real run stops before "
        "its first job if one of its jobs needs them):\n  - " + "\n  - ".join(_missing)
    )


onstart:
    _problems = start_problems(config, workflow.dag.needrun_jobs())
    if _problems:
        raise WorkflowError(_problems)
    set_train_retries()
    check_requests()


# Lets a dry run plan the jobs that read absent weight files; a real run never gets here.
if missing_weight_files(config):

    rule supply_missing_weights:
        output:
            missing_weight_files(config),
        log:
            f"{LOGS}/supply_missing_weights.log",
        shell:
            "echo 'put the Inception weight files where the config points' > {log:q}; exit 1"


# Stage rule files in DAG order.
include: "workflow/rules/common_stages.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/extractor.smk"
include: "workflow/rules/given.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/select.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/toy.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(config),


# Where each rule runs is its row of ncsn.steps (config/README.md's steps table): the local ones
# run in the Snakemake process, on a cluster's submit host, not as submitted jobs. (On a
# workstation every rule is local anyway.)
workflow.localrules(*local_rules(rule.name for rule in workflow.rules))
