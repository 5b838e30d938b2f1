# Pure functions from the checked config (defaults filled) to paths, settings and target
# lists. Every rule file reads its paths from here, so a path changes in one place.
# Adding a stage: define `<stage>_targets(config)` and name it in `all_targets`.

import hashlib
import json
from pathlib import Path

# Jobs run the library from the environment that runs Snakemake (`.venv/bin/snakemake`
# works without activating it): the Snakefile puts that Python first on PATH.
NCSN = "python -m ncsn"

RESULTS = "results"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"


# ---------------------------------------------------------------- config checks


def missing_files(config: dict) -> list[str]:
    """Local files and folders the config's used data sets and extractors need but lack.

    Settings themselves are checked by `ncsn.settings.check_config` (Snakefile) first, so
    every reference here is known to be valid. Returned as messages so the Snakefile can
    stop before any job runs.
    """
    problems = []
    used_datasets = {exp["dataset"] for exp in config["experiments"].values()}
    used_extractors = {exp["extractor"] for exp in config["experiments"].values()}
    ssm_noise = config.get("toy", {}).get("ssm_noise")
    if ssm_noise and ssm_noise["enabled"]:
        used_datasets.add(ssm_noise["dataset"])
    for name in sorted(used_extractors):
        ext = config["extractors"][name]
        if ext["kind"] == "digits":
            used_datasets.add(ext["dataset"])
        elif not Path(ext["weights"]).is_file():
            problems.append(
                f"extractors.{name}.weights: file '{ext['weights']}' does not exist. "
                "Put the Inception-v3 FID weights there "
                "(weights-inception-2015-12-05-6726825d.pth, the file torch-fidelity "
                "downloads from github.com/toshas/torch-fidelity/releases) or set "
                f"extractors.{name}.weights to where the file is."
            )
    for name in sorted(used_datasets):
        ds = config["datasets"][name]
        if (
            "root" in ds
            and not ds.get("download", False)
            and not Path(ds["root"]).is_dir()
        ):
            problems.append(
                f"datasets.{name}.root: folder '{ds['root']}' does not exist. Put the "
                f"{ds['source']} data there, point datasets.{name}.root to them, or set "
                f"datasets.{name}.download: true where the network allows it."
            )
    return problems


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
    """Everything the `all` target builds, stage by stage (the last four are in common_stages.smk)."""
    return (
        select_targets(config)
        + evaluate_targets(config)
        + toy_targets(config)
        + neighbours_targets(config)
        + figures_targets(config)
        + report_targets(config)
    )


# ---------------------------------------------------------------- resources


def gpu_count(wildcards) -> int:
    """GPUs a torch job asks for: 1 unless the config pins the CPU.

    Every job uses one GPU (training is single-GPU). Workstations run up to N GPU
    jobs at once with `--resources gpu=N` (N = the number of GPUs); each job then
    reserves its own card (ncsn.gpus). The SLURM executor turns it into `--gpus`.
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
