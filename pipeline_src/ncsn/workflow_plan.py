"""The jobs the workflow plans for a config: Snakemake's own DAG of a fresh run, built in process.

The DAG is built as ``snakemake --dry-run`` would in an empty scratch directory: every output is to
be made (a fresh clone's plan, whatever ``results/`` already holds), and nothing is written where the
user works. Inputs the user supplies need not exist: absent data and Inception weights are planned
through by the workflow itself; given checkpoints (``checkpoint.path``) are stood in by empty files in
the scratch directory. Jobs that a checkpoint rule adds after it runs are not in the plan
(``ncsn.costs`` counts them through the checkpoint's cost).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from ncsn.errors import NcsnError


class Job(NamedTuple):
    """One planned job: its rule and its wildcards."""

    rule: str
    wildcards: dict[str, str]


def stand_in_config(raw: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """The config with every given checkpoint pointing to an empty stand-in file under ``scratch``."""
    experiments = {}
    for name, exp in (raw.get("experiments") or {}).items():
        if isinstance(exp, dict) and isinstance(exp.get("checkpoint"), dict) and "path" in exp["checkpoint"]:
            stand_in = scratch / "given" / name / Path(str(exp["checkpoint"]["path"])).name
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.touch()
            exp = {**exp, "checkpoint": {**exp["checkpoint"], "path": str(stand_in)}}
        experiments[name] = exp
    return {**raw, "experiments": experiments} if "experiments" in raw else raw


def planned_jobs(raw_config: dict[str, Any], snakefile: Path = Path("Snakefile")) -> list[Job]:
    """Every job a fresh run of ``snakefile`` plans for ``raw_config`` (the YAML as written), ordered as
    the workflow defines its rules. Snakemake's log is kept back, and shown when planning fails."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, Quietness, ResourceSettings

    snakefile = Path(snakefile).resolve()
    if not snakefile.is_file():
        raise NcsnError(f"no workflow at {snakefile}: run from the pipeline's folder or pass --snakefile")
    cwd, log = os.getcwd(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="ncsn-plan-") as scratch:
        configfile = Path(scratch) / "config.yaml"
        configfile.write_text(yaml.safe_dump(stand_in_config(raw_config, Path(scratch) / "work")))
        try:
            with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
                output = OutputSettings(dryrun=True, quiet={Quietness.ALL}, enable_file_logging=False)
                with SnakemakeApi(output) as api:
                    workflow_api = api.workflow(
                        ResourceSettings(cores=1),
                        ConfigSettings(configfiles=[configfile]),
                        snakefile=snakefile,
                        workdir=Path(scratch) / "work",
                    )
                    workflow_api.dag(DAGSettings(forceall=True))
                    # as `snakemake --dag` builds it (snakemake.workflow.Workflow.printdag)
                    workflow = workflow_api._workflow
                    workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True, nolock=True)
                    workflow._build_dag()
                    order = {rule.name: i for i, rule in enumerate(workflow.rules)}
                    jobs = [Job(job.rule.name, dict(job.wildcards_dict)) for job in workflow.dag.jobs]
        except NcsnError:
            raise
        except Exception as err:
            raise NcsnError(
                f"Snakemake could not plan {snakefile} for this config: {err}\n{log.getvalue()[-3000:]}"
            ) from err
        finally:
            os.chdir(cwd)
    return sorted(jobs, key=lambda job: order[job.rule])
