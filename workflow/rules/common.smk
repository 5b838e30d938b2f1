# Helpers from the checked config (defaults filled) to paths, settings and target lists: the
# target-list and check functions take the config as an argument, the helpers the rules call by
# wildcards (`settings_of`, `fid_inputs`, ...) read the workflow's global `config`. What each
# rule passes as --settings is built in ncsn.envelopes, one function a rule. Every rule file reads its paths from here, so a path changes in one place.
# Adding a stage: define `<stage>_targets(config)` and name it in `all_targets`.

import hashlib
import json
import re
from pathlib import Path

import ncsn.envelopes
import ncsn.records
import ncsn.settings
from ncsn.data.store import REFERENCE_SPLIT
from ncsn.metrics.inception_files import inception_paths  # light: no torch
from ncsn.steps import PRIORITY  # each rule's priority, beside its other facts

# Jobs run the library from the environment that runs Snakemake (`.venv/bin/snakemake`
# works without activating it): the Snakefile puts that Python first on PATH.
NCSN = "python -m ncsn"

RESULTS = "results"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"

# ---------------------------------------------------------------- config checks
# Settings are checked by `ncsn.settings.check_config` (Snakefile) first, so every
# reference between blocks is known to be valid here; what is left are local files.


def used_datasets_and_extractors(config: dict) -> tuple[set[str], set[str]]:
    """Data sets and extractors some job of this config reads (experiments, the SSM toy, classifier extractors)."""
    datasets = {exp["dataset"] for exp in config["experiments"].values()}
    extractors = {exp["extractor"] for exp in config["experiments"].values()}
    ssm_noise = config.get("toy", {}).get("ssm_noise")
    if ssm_noise and ssm_noise["enabled"]:
        datasets.add(ssm_noise["dataset"])
    for name in sorted(extractors):
        ext = config["extractors"][name]
        if ext["kind"] == "classifier":
            datasets.add(ext["dataset"])
    return datasets, extractors


def inception_weight_files(config: dict) -> dict[str, dict]:
    """Path -> where it is configured, its URL, published SHA-256 and download switch, of the
    Inception files some job reads (torch-fidelity's `weights`, clean-fid's `cleanfid_weights`).
    """
    _, used_extractors = used_datasets_and_extractors(config)
    files = {}
    for name in sorted(used_extractors):
        ext = config["extractors"][name]
        if ext["kind"] != "inception":
            continue
        for key, path in zip(("weights", "cleanfid_weights"), inception_paths(ext)):
            files[str(path)] = {
                "key": f"extractors.{name}.{key}",
                "url": ext["urls"][key],
                "sha256": ext["sha256"][key],
                "download": ext["download"],
            }
    return files


WEIGHTS_HINT = {
    "weights": "Put the Inception-v3 FID weights there (weights-inception-2015-12-05-6726825d.pth, the file "
    "torch-fidelity downloads from github.com/toshas/torch-fidelity/releases)",
    "cleanfid_weights": "Put clean-fid's TorchScript Inception there (inception-2015-12-05.pt, from "
    "nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/)",
}


def local_inputs(config: dict) -> list[tuple[str, str]]:
    """(problem, file whose job needs it) of every input the user supplies that is not there:
    Inception files without `download`, data roots without download, given checkpoints.
    """
    problems = []
    for path, spec in inception_weight_files(config).items():
        if not spec["download"] and not Path(path).is_file():
            key = spec["key"].rsplit(".", 1)[1]
            problems.append(
                (
                    f"{spec['key']}: file '{path}' does not exist. {WEIGHTS_HINT[key]}, set "
                    f"{spec['key']} to where the file is, or set "
                    f"{spec['key'].rsplit('.', 1)[0]}.download: true where the network allows it.",
                    path,
                )
            )
    used_datasets, _ = used_datasets_and_extractors(config)
    for name in sorted(used_datasets):
        ds = config["datasets"][name]
        if (
            "root" in ds
            and not ds.get("download", False)
            and not Path(ds["root"]).is_dir()
        ):
            problems.append(
                (
                    f"datasets.{name}.root: folder '{ds['root']}' does not exist. Put the "
                    f"{ds['source']} data there, point datasets.{name}.root to them, or set "
                    f"datasets.{name}.download: true where the network allows it.",
                    data_files(name)["train"],
                )
            )
    for name, exp in config["experiments"].items():
        given = exp.get("checkpoint")
        if given is not None and not Path(given["path"]).is_file():
            problems.append(
                (
                    f"experiments.{name}.checkpoint.path: file '{given['path']}' does not exist. "
                    "Point it to a checkpoint of ours (ckpt_N.pt) or, with format: official, to "
                    "an official NCSN checkpoint.pth (ermongroup/ncsn).",
                    given["path"],
                )
            )
    return problems


def missing_local_files(config: dict, needed: set[str] | None = None) -> list[str]:
    """Inputs the user supplies that are not there, of the jobs whose files are ``needed``
    (all of the config when None).

    A real run stops on them before any job (`onstart`, with the files of the jobs it will
    run, so preparing one data set does not need the others); a dry run (-n) lists them and plans.
    """
    return [
        problem
        for problem, file in local_inputs(config)
        if needed is None or file in needed
    ]


def weight_checksum_problems(config: dict, needed: set[str]) -> list[str]:
    """Present Inception files among ``needed`` whose SHA-256 is not the configured one."""
    from ncsn.verified_download import checksum_problem

    return [
        f"{spec['key']}: {problem}"
        for path, spec in inception_weight_files(config).items()
        if path in needed and Path(path).is_file()
        for problem in [checksum_problem(path, spec["sha256"])]
        if problem
    ]


def start_problems(config: dict, jobs) -> str:
    """Why a real run must not start (empty when it may): inputs that the ``jobs`` it will run
    need and that are missing, or Inception files among them that are not the published ones.
    """
    needed = {str(f) for job in jobs for f in [*job.input, *job.output]}
    sections = [
        ("Missing inputs, nothing was run:", missing_local_files(config, needed)),
        (
            "Wrong input files, nothing was run:",
            weight_checksum_problems(config, needed),
        ),
    ]
    return "\n".join(
        f"{title}\n  - " + "\n  - ".join(items) for title, items in sections if items
    )


def missing_weight_files(config: dict) -> list[str]:
    """Absent Inception files the user places by hand (a dry run plans through them)."""
    return [
        path
        for path, spec in inception_weight_files(config).items()
        if not spec["download"] and not Path(path).is_file()
    ]


def weights_to_fetch(config: dict) -> dict[str, dict]:
    """Absent Inception files with `download: true`: the `fetch_weights` job writes them."""
    return {
        path: spec
        for path, spec in inception_weight_files(config).items()
        if spec["download"] and not Path(path).is_file()
    }


# ---------------------------------------------------------------- small helpers


def settings_json(block: dict) -> str:
    """Settings as canonical JSON: equal settings give equal params (no spurious reruns)."""
    return json.dumps(block, sort_keys=True, separators=(",", ":"))


def settings_of(rule: str):
    """A rule's `params: settings`: the envelope its command receives as --settings, built by
    the rule's one builder in ncsn.envelopes from the config and the job's wildcards."""
    return lambda wc: settings_json(rule_envelope(rule, wc))


def rule_envelope(rule: str, wildcards) -> dict:
    """The --settings of one job of `rule` (ncsn.envelopes), as a dict."""
    return ncsn.envelopes.envelope(rule, config, dict(wildcards.items()))


def experiment(config: dict, name: str) -> dict:
    return config["experiments"][name]


def trained_experiments(config: dict) -> list[str]:
    """Experiments that train their model (no `checkpoint:` block)."""
    return [x for x, e in config["experiments"].items() if ncsn.settings.is_trained(e)]


def given_experiments(config: dict) -> list[str]:
    """Experiments that evaluate an existing checkpoint: no train, score or select jobs."""
    return [
        x for x, e in config["experiments"].items() if not ncsn.settings.is_trained(e)
    ]


def name_pattern(names: list[str]) -> str:
    """A wildcard constraint matching exactly these names (nothing when the list is empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


# ---------------------------------------------------------------- paths


def data_dir(dataset: str) -> str:
    return f"{RESULTS}/data/{dataset}"


def data_files(dataset: str) -> dict[str, str]:
    d = data_dir(dataset)
    return {
        "train": f"{d}/train.npz",
        "test": f"{d}/test.npz",
        "meta": f"{d}/meta.json",
    }


def extractor_files(config: dict, name: str) -> dict[str, str]:
    """What FID/IS need of an extractor: the workflow-trained model or the two Inception files."""
    ext = config["extractors"][name]
    if ext["kind"] == "classifier":
        return {"extractor": f"{RESULTS}/extractors/{name}/model.pt"}
    weights, cleanfid = inception_paths(ext)
    return {"extractor": str(weights), "cleanfid_weights": str(cleanfid)}


def refstats_file(dataset: str, extractor: str) -> str:
    return f"{RESULTS}/refstats/{dataset}/{extractor}.npz"


def run_dir(dataset: str, exp: str) -> str:
    return f"{RESULTS}/runs/{dataset}/{exp}"


def train_state_dir(dataset: str, exp: str, settings: dict) -> str:
    """Resumable snapshots of one training run, keyed by its settings but length and device.

    Raising training.iterations or moving to another device resumes the same run;
    changing the model, schedule, seed or another training setting starts a fresh
    state folder (the old one stays).
    """
    key = {
        **settings,
        "device": None,
        "training": {**settings["training"], "iterations": None},
    }
    digest = hashlib.sha256(settings_json(key).encode()).hexdigest()[:12]
    return f"{RESULTS}/train_state/{dataset}/{exp}/{digest}"


def checkpoint_file(dataset: str, exp: str, iteration) -> str:
    return f"{run_dir(dataset, exp)}/checkpoints/ckpt_{iteration}.pt"


def score_file(dataset: str, exp: str, iteration) -> str:
    return f"{RESULTS}/scores/{dataset}/{exp}/ckpt_{iteration}.json"


def score_samples_file(dataset: str, exp: str, iteration) -> str:
    """The samples a checkpoint's selection score was computed on (a shard .npz)."""
    return f"{RESULTS}/scores/{dataset}/{exp}/ckpt_{iteration}_samples.npz"


def heldout_file(dataset: str, exp: str, iteration) -> str:
    return f"{RESULTS}/heldout/{dataset}/{exp}/ckpt_{iteration}.json"


def candidates_file(dataset: str, exp: str) -> str:
    """The k checkpoints of lowest held-out loss that criterion loss_topk scores."""
    return f"{RESULTS}/selection/{dataset}/{exp}/candidates.json"


def selection_files(dataset: str, exp: str) -> dict[str, str]:
    d = f"{RESULTS}/selection/{dataset}/{exp}"
    return {"selection": f"{d}/selection.json", "table": f"{d}/fid_vs_checkpoint.csv"}


def imported_checkpoint_file(dataset: str, exp: str) -> str:
    """Our-format copy of an experiment's official checkpoint (`ncsn import-official`)."""
    return f"{RESULTS}/imported/{dataset}/{exp}/checkpoint.pt"


def given_checkpoint_file(config: dict, exp: str) -> str:
    """The checkpoint a `checkpoint:` experiment evaluates: the user's file, or its import."""
    e = experiment(config, exp)
    if e["checkpoint"]["format"] == "official":
        return imported_checkpoint_file(e["dataset"], exp)
    return e["checkpoint"]["path"]


def official_import_options(config: dict, exp: str) -> str:
    """`import-official` options of a format: official experiment (its official config and width)."""
    e = experiment(config, exp)
    block = e["checkpoint"]
    dataset = (
        block.get("official_dataset") or config["datasets"][e["dataset"]]["source"]
    )
    ngf = f" --ngf {block['ngf']}" if "ngf" in block else ""
    return f"--dataset {dataset}{ngf}"


def shard_file(dataset: str, exp: str, k, K) -> str:
    return f"{RESULTS}/samples/{dataset}/{exp}/shard_{k}_of_{K}.npz"


def metrics_file(dataset: str, exp: str) -> str:
    return f"{RESULTS}/eval/{dataset}/{exp}/metrics.json"


def prepare_benchmark(dataset: str) -> str:
    """Snakemake benchmark TSV of a data set's `prepare` job (the report's data time, [Re] Table 1)."""
    return f"{BENCH}/prepare/{dataset}.tsv"


def train_benchmark(dataset: str, exp: str) -> str:
    """Snakemake benchmark TSV of the training job (the report reads it for it/s)."""
    return f"{BENCH}/train/{dataset}/{exp}.tsv"


def sample_benchmarks(config: dict, exp: str) -> list[str]:
    """Benchmark TSVs of an experiment's sampling shards (the report reads them for s/1000)."""
    e = experiment(config, exp)
    K = e["evaluation"]["shards"]
    return [
        f"{BENCH}/sample/{e['dataset']}/{exp}/shard_{k}_of_{K}.tsv" for k in range(K)
    ]


# ---------------------------------------------------------------- per-experiment lists


def experiment_names(config: dict) -> list[str]:
    return list(config["experiments"])


def shard_files(config: dict, exp: str) -> list[str]:
    e = experiment(config, exp)
    K = e["evaluation"]["shards"]
    return [shard_file(e["dataset"], exp, k, K) for k in range(K)]


def heldout_files(config: dict, exp: str) -> list[str]:
    """Held-out DSM loss of every checkpoint (cheap; in the FID-vs-checkpoint table)."""
    e = experiment(config, exp)
    return [
        heldout_file(e["dataset"], exp, it)
        for it in ncsn.settings.published_iterations(e["training"])
    ]


def score_files(config: dict, exp: str) -> list[str]:
    """Per-checkpoint FID scores the selection needs: none for `last` or a given checkpoint,
    all for `fid`, and for `loss_topk` those of the candidates the rank_checkpoints checkpoint
    job chose.
    """
    e = experiment(config, exp)
    criterion = e["selection"]["criterion"]
    if criterion == "last" or exp not in trained_experiments(config):
        return []
    iterations = ncsn.settings.published_iterations(e["training"])
    if criterion == "loss_topk":
        chosen = checkpoints.rank_checkpoints.get(dataset=e["dataset"], experiment=exp)
        iterations = ncsn.records.CANDIDATES.read(chosen.output[0])["iterations"]
    return [score_file(e["dataset"], exp, it) for it in iterations]


# ---------------------------------------------------------------- targets


def evaluate_targets(config: dict) -> list[str]:
    return [
        metrics_file(experiment(config, x)["dataset"], x)
        for x in experiment_names(config)
    ]


def select_targets(config: dict) -> list[str]:
    """Selection and FID-vs-checkpoint table of trained experiments; the selection
    file naming the given checkpoint of the others."""
    given = set(given_experiments(config))
    return [
        f
        for x in experiment_names(config)
        for key, f in selection_files(experiment(config, x)["dataset"], x).items()
        if x not in given or key == "selection"
    ]


def all_targets(config: dict) -> list[str]:
    """Everything the `all` target builds, stage by stage (the last four are in common_stages.smk)."""
    return (
        select_targets(config)
        + evaluate_targets(config)
        + toy_targets(config)
        + neighbours_targets(config)
        + figures_targets(config)
        + report_targets(config)
    )


# ---------------------------------------------------------------- shared by rule files


def fid_inputs(wildcards) -> dict:
    """Extractor and reference statistics an experiment's FID is computed against."""
    exp = experiment(config, wildcards.experiment)
    return {
        **extractor_files(config, exp["extractor"]),
        "refstats": refstats_file(exp["dataset"], exp["extractor"]),
    }


def extractor_training_data(wildcards):
    return data_files(config["extractors"][wildcards.extractor]["dataset"])
