"""What each workflow rule passes as ``--settings``: one builder per rule, from the workflow's config.

A command's ``--settings`` is its *envelope* (the schema's ``envelopes.COMMAND``, checked and filled
once by the command line, ``ncsn.commands.options``). The rules build theirs here, one function a
rule, from the config the workflow runs with (``ncsn.seeds.workflow_config``: checked, filled, one
run per seed) and the job's wildcards; a rule's ``params: settings`` is one call
(``settings_of(RULE)`` in ``workflow/rules/common.smk``). Torch-free: the workflow imports it
while it plans.

Equal settings give equal JSON (the rule files write it with sorted keys), so a changed block
reruns exactly the jobs whose envelope holds it.
"""

from __future__ import annotations

from typing import Any, Callable

from ncsn.sweep import cell_sampling

Config = dict[str, Any]
Wildcards = dict[str, str]
Builder = Callable[[Config, Wildcards], dict[str, Any]]

# rule -> (the command whose envelope it builds, its builder)
BUILDERS: dict[str, tuple[str, Builder]] = {}

# Inception keys only the workflow reads (fetching and checking the files before the first job):
# kept out of the jobs' settings, so a changed URL or hash reruns nothing.
WEIGHTS_FETCH_KEYS = ("download", "urls", "sha256")
# Keys of a figure block that only the workflow reads (which experiments, which split).
FIGURE_WORKFLOW_KEYS = ("experiments", "split")


def builds(command: str, *rules: str) -> Callable[[Builder], Builder]:
    """Register a builder of ``command``'s envelope for ``rules``."""

    def register(builder: Builder) -> Builder:
        for rule in rules:
            BUILDERS[rule] = (command, builder)
        return builder

    return register


def envelope(rule: str, config: Config, wildcards: Wildcards) -> dict[str, Any]:
    """The ``--settings`` of one job of ``rule`` (its wildcards ``wildcards``)."""
    return BUILDERS[rule][1](config, dict(wildcards))


def command_of(rule: str) -> str:
    """The command (``figure KIND``, ``toy KIND`` with their kind) whose envelope ``rule`` builds."""
    return BUILDERS[rule][0]


# ---------------------------------------------------------------- parts several envelopes share


def run_seed(config: Config, name: str) -> int:
    """The seed a run trains and samples with (ncsn.seeds: one run per experiment and seed)."""
    return config["experiments"][name].get("seed", config["seed"])


def sampler(config: Config, name: str) -> dict[str, Any]:
    """The sampling block, device and seed a run samples with."""
    return {
        "sampling": config["experiments"][name]["sampling"],
        "device": config["device"],
        "seed": run_seed(config, name),
    }


def figure_block(config: Config, kind: str) -> dict[str, Any]:
    """A figure block as the `figure` command takes it (the workflow-only keys left out)."""
    block = config.get("figures", {}).get(kind, {})
    return {key: value for key, value in block.items() if key not in FIGURE_WORKFLOW_KEYS}


# ---------------------------------------------------------------- one builder per rule


@builds("prepare", "prepare")
def prepare(config: Config, wc: Wildcards) -> dict[str, Any]:
    return config["datasets"][wc["dataset"]]


@builds("train", "train")
def train(config: Config, wc: Wildcards) -> dict[str, Any]:
    exp = config["experiments"][wc["experiment"]]
    return {
        "model": exp["model"],
        "schedule": exp["schedule"],
        "training": exp["training"],
        "flip": config["datasets"][exp["dataset"]]["flip"],
        "device": config["device"],
        "seed": run_seed(config, wc["experiment"]),
    }


@builds("train-extractor", "train_extractor")
@builds("ref-stats", "ref_stats")
def extractor(config: Config, wc: Wildcards) -> dict[str, Any]:
    ext = config["extractors"][wc["extractor"]]
    return {
        "extractor": {key: value for key, value in ext.items() if key not in WEIGHTS_FETCH_KEYS},
        "device": config["device"],
        "seed": config["seed"],
    }


@builds("heldout-loss", "heldout_loss")
def heldout_loss(config: Config, wc: Wildcards) -> dict[str, Any]:
    exp = config["experiments"][wc["experiment"]]
    return {
        "heldout": exp["selection"]["heldout"],
        "sampling": {"use_ema": exp["sampling"]["use_ema"]},
        "device": config["device"],
    }


@builds("select", "rank_checkpoints", "select")
def select(config: Config, wc: Wildcards) -> dict[str, Any]:
    return config["experiments"][wc["experiment"]]["selection"]


@builds("score", "score")
def score(config: Config, wc: Wildcards) -> dict[str, Any]:
    selection = config["experiments"][wc["experiment"]]["selection"]
    return {**sampler(config, wc["experiment"]), "intervals": config["intervals"], "cleanfid": selection["cleanfid"]}


@builds("score", "sweep_cell")
def sweep_cell(config: Config, wc: Wildcards) -> dict[str, Any]:
    """A cell of the eps x T sweep: the experiment's sampler at the cell's eps and T."""
    sampling = cell_sampling(config["experiments"][wc["experiment"]]["sampling"], wc["eps"], wc["T"])
    return {**score(config, wc), "sampling": sampling}


@builds("sample", "sample", "sample_timing")
def sample(config: Config, wc: Wildcards) -> dict[str, Any]:
    return sampler(config, wc["experiment"])


@builds("evaluate", "evaluate")
def evaluate(config: Config, wc: Wildcards) -> dict[str, Any]:
    return {
        "evaluation": config["experiments"][wc["experiment"]]["evaluation"],
        "device": config["device"],
        "intervals": config["intervals"],
    }


@builds("report", "report_tables")
def report(config: Config, wc: Wildcards) -> dict[str, Any]:
    return {"experiments": config["experiments"], "device": config["device"], "intervals": config["intervals"]}


@builds("neighbours", "neighbours")
def neighbours(config: Config, wc: Wildcards) -> dict[str, Any]:
    return {**figure_block(config, "neighbours"), "device": config["device"]}


@builds("figure samples", "figure_samples")
def figure_samples(config: Config, wc: Wildcards) -> dict[str, Any]:
    return figure_block(config, "samples")


@builds("figure intermediate", "figure_intermediate")
def figure_intermediate(config: Config, wc: Wildcards) -> dict[str, Any]:
    return {**sampler(config, wc["experiment"]), **figure_block(config, "intermediate")}


@builds("figure inpainting", "figure_inpainting")
def figure_inpainting(config: Config, wc: Wildcards) -> dict[str, Any]:
    return {**sampler(config, wc["experiment"]), **figure_block(config, "inpainting")}


@builds("figure sweep", "figure_sweep")
def figure_sweep(config: Config, wc: Wildcards) -> dict[str, Any]:
    return figure_block(config, "sweep")


def toy(key: str) -> Builder:
    """The builder of toy experiment ``key``: its block as ``experiment`` (without ``enabled``), device,
    seed, and the mixture ``gmm`` for all but the SSM toy (it trains on images)."""

    def build(config: Config, wc: Wildcards) -> dict[str, Any]:
        block = {k: v for k, v in config["toy"][key].items() if k != "enabled"}
        settings = {"seed": config["seed"], "device": config["device"], "experiment": block}
        return settings if key == "ssm_noise" else {**settings, "gmm": config["toy"]["gmm"]}

    return build


for _key in ("ssm_noise", "scores", "langevin_modes", "eps_sweep"):
    builds(f"toy {_key.replace('_', '-')}", f"toy_{_key}")(toy(_key))
