# Pure functions from the validated config to paths, settings and target lists.
# Every rule file reads its paths from here, so a path changes in one place.
#
# Adding stages: `all_targets(config)` collects `<stage>_targets(config)` from
# every stage; a rule file owned by another stage (toy, figures, report) defines
# `toy_targets(config)`, `figures_targets(config)` or `report_targets(config)`
# and they are picked up automatically (see STAGE_TARGET_HOOKS).

import hashlib
import json
from pathlib import Path

# Jobs run the library from the environment that runs Snakemake (`.venv/bin/snakemake`
# works without activating it): the Snakefile puts that Python first on PATH.
NCSN = "python -m ncsn"

RESULTS = "results"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"

# Functions named here are called by all_targets() when a rule file defines them.
STAGE_TARGET_HOOKS = (
    "toy_targets",
    "neighbours_targets",
    "figures_targets",
    "report_targets",
)


# ---------------------------------------------------------------- config checks


def used_datasets_and_extractors(config: dict) -> tuple[set[str], set[str]]:
    """Data sets and extractors some job of this config reads (experiments, the SSM toy, digits extractors)."""
    datasets = {exp["dataset"] for exp in config["experiments"].values()}
    extractors = {exp["extractor"] for exp in config["experiments"].values()}
    ssm_noise = config.get("toy", {}).get("ssm_noise")
    if ssm_noise and ssm_noise.get("enabled", True):
        datasets.add(ssm_noise["dataset"])
    for name in sorted(extractors & set(config["extractors"])):
        ext = config["extractors"][name]
        if ext["kind"] == "digits":
            datasets.add(ext["dataset"])
    return datasets, extractors


def config_problems(config: dict) -> list[str]:
    """Cross-references the schema cannot express (local files: see missing_local_files).

    Returned as messages so the Snakefile can stop before any job runs.
    """
    problems = []
    for name, exp in config["experiments"].items():
        for key, table in (("dataset", "datasets"), ("extractor", "extractors")):
            if exp[key] not in config[table]:
                problems.append(
                    f"experiments.{name}.{key}: '{exp[key]}' is not a key of "
                    f"'{table}' (known: {', '.join(sorted(config[table]))})"
                )
    ssm_noise = config.get("toy", {}).get("ssm_noise")
    if ssm_noise and ssm_noise.get("enabled", True):
        if ssm_noise["dataset"] not in config["datasets"]:
            problems.append(
                f"toy.ssm_noise.dataset: '{ssm_noise['dataset']}' is not a key of "
                f"'datasets' (known: {', '.join(sorted(config['datasets']))})"
            )
    _, used_extractors = used_datasets_and_extractors(config)
    for name in sorted(used_extractors & set(config["extractors"])):
        ext = config["extractors"][name]
        if ext["kind"] == "digits" and ext["dataset"] not in config["datasets"]:
            problems.append(
                f"extractors.{name}.dataset: '{ext['dataset']}' is not a key of 'datasets'"
            )
    for name, exp in config["experiments"].items():
        tr = exp["training"]
        if tr["snapshot_freq"] > tr["iterations"]:
            problems.append(
                f"experiments.{name}.training.snapshot_freq ({tr['snapshot_freq']}) "
                f"exceeds training.iterations ({tr['iterations']})"
            )
        ev, batch = exp["evaluation"], exp["sampling"]["batch_size"]
        blocks = -(-ev["num_samples"] // batch)
        if ev["shards"] > blocks:
            problems.append(
                f"experiments.{name}.evaluation.shards ({ev['shards']}) exceeds the "
                f"{blocks} sampling batch(es) of {batch} that evaluation.num_samples "
                f"({ev['num_samples']}) makes; use at most {blocks} shards or a smaller "
                "sampling.batch_size"
            )
    return problems


def missing_local_files(config: dict) -> list[str]:
    """Inputs the user supplies that are not there: Inception files, data roots without download.

    A real run stops on them before any job; a dry run (-n) lists them and still plans.
    """
    from ncsn.metrics.inception_files import inception_paths  # light: no torch

    missing = []
    used_datasets, used_extractors = used_datasets_and_extractors(config)
    for name in sorted(used_extractors & set(config["extractors"])):
        ext = config["extractors"][name]
        if ext["kind"] != "inception":
            continue
        weights, cleanfid = inception_paths(ext)
        if not weights.is_file():
            missing.append(
                f"extractors.{name}.weights: file '{weights}' does not exist. "
                "Put the Inception-v3 FID weights there "
                "(weights-inception-2015-12-05-6726825d.pth, the file torch-fidelity "
                "downloads from github.com/toshas/torch-fidelity/releases) or set "
                f"extractors.{name}.weights to where the file is."
            )
        if not cleanfid.is_file():
            missing.append(
                f"extractors.{name}.cleanfid_weights: file '{cleanfid}' does not exist. "
                "Put clean-fid's TorchScript Inception there (inception-2015-12-05.pt, from "
                "nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/) or set "
                f"extractors.{name}.cleanfid_weights to where the file is (default: next to "
                "the torch-fidelity weights)."
            )
    for name in sorted(used_datasets & set(config["datasets"])):
        ds = config["datasets"][name]
        if (
            "root" in ds
            and not ds.get("download", False)
            and not Path(ds["root"]).is_dir()
        ):
            missing.append(
                f"datasets.{name}.root: folder '{ds['root']}' does not exist. Put the "
                f"{ds['source']} data there, point datasets.{name}.root to them, or set "
                f"datasets.{name}.download: true where the network allows it."
            )
    return missing


def missing_weight_files(config: dict) -> list[str]:
    """Inception weight files that are rule inputs and absent (a dry run plans through them)."""
    _, used_extractors = used_datasets_and_extractors(config)
    return [
        path
        for name in sorted(used_extractors & set(config["extractors"]))
        if config["extractors"][name]["kind"] == "inception"
        for path in [extractor_files(config, name)["extractor"]]
        if not Path(path).is_file()
    ]


# ---------------------------------------------------------------- small helpers


def settings_json(block: dict) -> str:
    """Settings as canonical JSON: equal settings give equal params (no spurious reruns)."""
    return json.dumps(block, sort_keys=True, separators=(",", ":"))


def experiment(config: dict, name: str) -> dict:
    return config["experiments"][name]


def checkpoint_iterations(exp: dict) -> list[int]:
    """Iterations at which training publishes a checkpoint: every snapshot_freq, and the last."""
    iterations = exp["training"]["iterations"]
    freq = exp["training"]["snapshot_freq"]
    its = list(range(freq, iterations + 1, freq))
    if not its or its[-1] != iterations:
        its.append(iterations)
    return its


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
    """What FID/IS need of an extractor: the workflow-trained model or the weights file."""
    ext = config["extractors"][name]
    if ext["kind"] == "digits":
        return {"extractor": f"{RESULTS}/extractors/{name}/model.pt"}
    return {"extractor": ext["weights"]}


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


def selection_files(dataset: str, exp: str) -> dict[str, str]:
    d = f"{RESULTS}/selection/{dataset}/{exp}"
    return {"selection": f"{d}/selection.json", "table": f"{d}/fid_vs_checkpoint.csv"}


def shard_file(dataset: str, exp: str, k, K) -> str:
    return f"{RESULTS}/samples/{dataset}/{exp}/shard_{k}_of_{K}.npz"


def metrics_file(dataset: str, exp: str) -> str:
    return f"{RESULTS}/eval/{dataset}/{exp}/metrics.json"


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


def score_files(config: dict, exp: str) -> list[str]:
    """Per-checkpoint scores the selection needs (none when the criterion is `last`)."""
    e = experiment(config, exp)
    if e["selection"]["criterion"] == "last":
        return []
    return [score_file(e["dataset"], exp, it) for it in checkpoint_iterations(e)]


# ---------------------------------------------------------------- targets


def evaluate_targets(config: dict) -> list[str]:
    return [
        metrics_file(experiment(config, x)["dataset"], x)
        for x in experiment_names(config)
    ]


def select_targets(config: dict) -> list[str]:
    return [
        f
        for x in experiment_names(config)
        for f in selection_files(experiment(config, x)["dataset"], x).values()
    ]


def all_targets(config: dict) -> list[str]:
    """Everything the `all` target builds (core stages and the hooks other rule files define)."""
    targets = select_targets(config) + evaluate_targets(config)
    for hook in STAGE_TARGET_HOOKS:
        if hook in globals():
            targets += globals()[hook](config)
    return targets


# ---------------------------------------------------------------- resources


def gpu_count(wildcards) -> int:
    """GPUs a torch job asks for: 1 unless the config pins the CPU.

    Workstations cap concurrent GPU jobs with `--resources gpu=N`; the SLURM
    executor turns it into `--gpus`. Override it with `--set-resources train:gpu=2` etc.
    """
    return 0 if config["device"] == "cpu" else 1


# ---------------------------------------------------------------- shared by rule files


def sampler_settings(name: str) -> dict:
    return {
        "sampling": experiment(config, name)["sampling"],
        "device": config["device"],
        "seed": config["seed"],
    }


def fid_inputs(wildcards) -> dict:
    """Extractor and reference statistics an experiment's FID is computed against."""
    exp = experiment(config, wildcards.experiment)
    return {
        "extractor": extractor_files(config, exp["extractor"])["extractor"],
        "refstats": refstats_file(exp["dataset"], exp["extractor"]),
    }


def extractor_training_data(wildcards):
    return data_files(config["extractors"][wildcards.extractor]["dataset"])


def extractor_settings(name: str) -> dict:
    return {
        "extractor": config["extractors"][name],
        "device": config["device"],
        "seed": config["seed"],
    }


def train_settings(name: str) -> dict:
    exp = experiment(config, name)
    return {
        "model": exp["model"],
        "schedule": exp["schedule"],
        "training": exp["training"],
        "flip": config["datasets"][exp["dataset"]]["flip"],
        "device": config["device"],
        "seed": config["seed"],
    }
