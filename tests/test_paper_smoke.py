"""The paper configuration at small scale: real-format fixtures, Inception through both libraries
(checked against their own top-level functions), the overlay, and the whole paper DAG (slow)."""

from __future__ import annotations

import copy
import gzip
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch_fidelity
import yaml
from cleanfid import fid as cleanfid
from cleanfid.inception_torchscript import InceptionV3W
from helpers import prepare, snakemake_command
from PIL import Image

from ncsn.fixtures import write_celeba, write_cifar10, write_inception_weights, write_mnist
from ncsn.metrics.extractors import build_extractor
from ncsn.metrics.fidelity import compare, image_statistics
from ncsn.report.tables import RE_REGENERATED

ROOT = Path(__file__).resolve().parents[1]
SMOKE_SIZES = {  # the most any experiment of the merged smoke config may ask for
    ("training", "iterations"): 10,
    ("evaluation", "num_samples"): 20,
    ("selection", "num_samples"): 20,
    ("sampling", "n_steps_each"): 5,
    ("model", "ngf"): 8,
}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_inception_weights(tmp_path_factory.mktemp("weights"), seed=3)


@pytest.fixture(scope="module")
def extractor(weights):
    torch.set_num_threads(1)
    return build_extractor({"kind": "inception", "weights": str(weights["torch_fidelity"])}, None, torch.device("cpu"))


# ------------------------------------------------------------------ data sets in their real formats


def test_mnist_fixture_is_torchvisions_raw_layout_with_gz_copies(tmp_path):
    root = write_mnist(tmp_path / "mnist", n_train=7, n_test=3)
    raw = root / "MNIST" / "raw"
    header = (raw / "train-images-idx3-ubyte").read_bytes()[:16]
    assert header == bytes([0, 0, 8, 3]) + (7).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        assert gzip.decompress((raw / f"{name}.gz").read_bytes()) == (raw / name).read_bytes()
    meta = prepare("mnist", {"source": "mnist", "root": str(root)}, tmp_path / "out")
    with np.load(tmp_path / "out" / "train.npz") as data:
        assert data["images"].shape == (7, 28, 28, 1) and data["labels"].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert meta is not None


def test_cifar10_fixture_is_the_python_batches_layout(tmp_path):
    root = write_cifar10(tmp_path / "cifar10", per_batch=3, n_test=4)
    folder = root / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == [
        "batches.meta",
        *[f"data_batch_{k}" for k in range(1, 6)],
        "test_batch",
    ]
    with open(folder / "data_batch_2", "rb") as handle:
        entry = pickle.load(handle, encoding="latin1")  # as torchvision and the official loader read them
    assert entry["data"].dtype == np.uint8 and entry["data"].shape == (3, 3072) and len(entry["labels"]) == 3
    prepare("cifar10", {"source": "cifar10", "root": str(root)}, tmp_path / "out")
    with np.load(tmp_path / "out" / "train.npz") as data:
        images = data["images"]
    assert images.shape == (15, 32, 32, 3)
    # row layout: 1024 red, 1024 green, 1024 blue values, each plane row-major
    assert np.array_equal(images[3], entry["data"][0].reshape(3, 32, 32).transpose(1, 2, 0))


def test_celeba_fixture_uses_the_official_partition(tmp_path):
    root = write_celeba(tmp_path / "celeba", n_train=5, n_valid=2, n_test=3)
    assert Image.open(root / "celeba" / "img_align_celeba" / "000001.jpg").size == (178, 218)
    prepare("celeba", {"source": "celeba", "root": str(root)}, tmp_path / "out")
    with np.load(tmp_path / "out" / "train.npz") as train, np.load(tmp_path / "out" / "test.npz") as test:
        assert train["images"].shape == (5, 32, 32, 3) and test["images"].shape == (3, 32, 32, 3)


# ------------------------------------------------------------------ Inception, both libraries


def test_both_inception_files_hold_the_same_network(weights):
    state = torch.load(weights["torch_fidelity"], weights_only=False)
    scripted = torch.jit.load(str(weights["cleanfid"]))
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        trunk = scripted.layers(x).flatten(1)
        logits = scripted(x * 128 + 128, return_features=False)
    assert trunk.shape == (2, 2048) and torch.isfinite(trunk).all()
    expected = trunk @ state["fc.weight"].T + state["fc.bias"]
    assert torch.allclose(logits, expected, rtol=1e-4, atol=1e-4)


class Uint8Images(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray):
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")  # inside clean-fid
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # few images: singular covariances
def test_our_inception_metrics_equal_both_libraries_called_directly(weights, extractor, tmp_path):
    from ncsn.fixtures import blob_images

    rng = np.random.default_rng(0)
    fake, real = blob_images(12, 32, 32, 3, rng), blob_images(16, 32, 32, 3, rng)
    ours_fake, ours_real = (
        image_statistics(fake, extractor, is_splits=3),
        image_statistics(real, extractor, is_splits=3),
    )
    ours = compare(ours_fake, ours_real)
    theirs = torch_fidelity.calculate_metrics(
        input1=Uint8Images(fake),
        input2=Uint8Images(real),
        cuda=False,
        cache=False,
        isc=True,
        fid=True,
        isc_splits=3,
        feature_extractor="inception-v3-compat",
        feature_extractor_weights_path=str(weights["torch_fidelity"]),
        verbose=False,
        save_cpu_ram=True,
    )
    assert ours["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    assert ours_fake.inception_score()["mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-5)
    assert ours_fake.inception_score()["std"] == pytest.approx(theirs["inception_score_std"], rel=1e-5, abs=1e-9)
    assert ours_fake.inception_score()["mean"] > 1.01  # the seeded classifier tells images apart
    for name, images in (("fake", fake), ("real", real)):
        (tmp_path / name).mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image).save(tmp_path / name / f"{i:03d}.png")
    network = InceptionV3W(str(weights["cleanfid"].parent), download=False, resize_inside=False).eval()
    direct = cleanfid.compute_fid(
        str(tmp_path / "fake"),
        str(tmp_path / "real"),
        mode="clean",
        custom_feat_extractor=network,
        num_workers=0,
        batch_size=8,
        device=torch.device("cpu"),
        use_dataparallel=False,
        verbose=False,
    )
    assert ours["fid_cleanfid"] == pytest.approx(direct, rel=1e-5)
    assert np.isfinite([ours["fid"], ours["fid_cleanfid"]]).all() and ours["fid"] > 0


# ------------------------------------------------------------------ the overlay


SMOKE_CONFIGS = ("config/paper.yaml", "config/re_report.yaml", "config/paper_smoke.yaml")


def merged_smoke_config() -> tuple[dict, dict, dict]:
    """paper.yaml with re_report.yaml's runs, the overlay, and the three merged the way Snakemake
    merges --configfile files."""
    from snakemake.utils import update_config

    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    update_config(paper, yaml.safe_load((ROOT / "config/re_report.yaml").read_text()))
    overlay = yaml.safe_load((ROOT / "config/paper_smoke.yaml").read_text())
    merged = copy.deepcopy(paper)
    update_config(merged, overlay)
    return paper, overlay, merged


def test_smoke_overlay_shrinks_every_experiment_of_the_paper_config():
    paper, overlay, merged = merged_smoke_config()
    missing = sorted(set(paper["experiments"]) - set(overlay.get("experiments", {})))
    assert not missing, f"config/paper_smoke.yaml has no entry for {missing}: add `NAME: *smoke` under experiments"
    extra = sorted(set(overlay["experiments"]) - set(paper["experiments"]))
    assert not extra, f"config/paper_smoke.yaml names experiments that config/paper.yaml lacks: {extra}"
    assert set(merged["experiments"]) == set(paper["experiments"])
    for name, exp in merged["experiments"].items():
        for (block, key), most in SMOKE_SIZES.items():
            value = exp.get(block, {}).get(key)
            assert value is not None and value <= most, (
                f"experiments.{name}.{block}.{key} is {value}, not shrunk to <= {most}"
            )
        for key in ("dataset", "extractor"):
            assert exp[key] == paper["experiments"][name][key]  # the same wiring, only sizes differ
    for name, ds in merged["datasets"].items():
        assert ds["source"] == paper["datasets"][name]["source"] and ds["download"] is False
    assert (
        set(merged["toy"]) == set(paper["toy"])
        and merged["figures"]["sweep"]["experiment"] == paper["figures"]["sweep"]["experiment"]
    )


def test_smoke_run_plans_every_rule_the_paper_run_plans():
    """The overlay shrinks sizes and draws per-experiment figures for a few experiments only; every
    rule of the paper's plan (Snakemake's own DAG, ncsn.workflow_plan) must still run in the smoke run."""
    from ncsn.workflow_plan import planned_jobs

    paper, _, merged = merged_smoke_config()
    rules = {
        name: {job.rule for job in planned_jobs(cfg, ROOT / "Snakefile")}
        for name, cfg in (("paper", paper), ("smoke", merged))
    }
    assert rules["paper"] - rules["smoke"] == set(), "rules the smoke overlay leaves out of the paper's plan"
    assert {"figure_samples", "figure_intermediate", "figure_inpainting", "neighbours", "sweep_cell"} <= rules["smoke"]


# ------------------------------------------------------------------ the whole paper DAG (slow)


@pytest.mark.slow
@pytest.mark.xdist_group("paper_smoke")
def test_paper_smoke_run_fills_the_report_with_finite_metrics_for_every_experiment(tmp_path):
    """What `make paper-smoke` runs, in a fresh folder: every stage of config/paper.yaml on fixtures."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "pipeline_src"), "OMP_NUM_THREADS": "1"}
    fixtures = subprocess.run(
        [sys.executable, "-m", "ncsn", "fixtures", "--out", str(tmp_path / "fixtures")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert fixtures.returncode == 0, fixtures.stderr[-3000:]
    run = subprocess.run(
        [
            *snakemake_command(tmp_path),
            "--cores",
            "2",
            "--max-threads",
            "1",
            "--configfile",
            *[str(ROOT / path) for path in SMOKE_CONFIGS],
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=3600,
    )
    assert run.returncode == 0, run.stdout[-5000:]
    paper, _, merged = merged_smoke_config()
    results = pd.read_csv(tmp_path / "results/report/results.csv")
    ours = results[results["source"].isin(["this run", RE_REGENERATED])].set_index("experiment")
    # one row per experiment of config/paper.yaml and config/re_report.yaml, [Re]'s labelled as regenerated
    assert sorted(ours.index) == sorted(paper["experiments"])
    assert sorted(results[results["source"] == RE_REGENERATED]["experiment"]) == ["celeba_re", "cifar10_re"]
    assert np.isfinite(ours[["fid_low", "fid_high"]].to_numpy(dtype=float)).all()
    # experiments that take their last checkpoint (MNIST, as the paper) have no selection FID
    last = [name for name, exp in merged["experiments"].items() if exp.get("selection", {}).get("criterion") == "last"]
    assert "mnist_geometric" in last
    selected = ours.drop(index=last)["fid_selection"].to_numpy(dtype=float)
    final = ours[["is_mean", "is_std", "fid"]].to_numpy(dtype=float)
    assert np.isfinite(selected).all() and np.isfinite(final).all(), ours.to_string()
    # clean-fid's FID where the evaluation asks for it (the default), empty where the overlay turns it off
    cleanfid = {name for name, exp in merged["experiments"].items() if exp["evaluation"].get("cleanfid", True)}
    assert cleanfid == {"mnist_geometric", "cifar10_geometric"}
    assert {name for name in ours.index if np.isfinite(float(ours.loc[name, "fid_cleanfid"]))} == cleanfid
    assert (ours["extractor"] == "inception").all()
    assert all(ours.loc[x, "final_samples"] == e["evaluation"]["num_samples"] for x, e in merged["experiments"].items())
    timing = pd.read_csv(tmp_path / "results/report/timing.csv")
    assert set(paper["experiments"]) <= set(timing["experiment"].dropna())
    assert (tmp_path / "results/figures/cifar10/cifar10_geometric/sweep.png").is_file()
    # the sweep cell at the experiment's own eps and T is the chosen checkpoint's selection score, not drawn again
    cells = tmp_path / "results/sweep/cifar10/cifar10_geometric"
    own, other = (json.loads((cells / f"eps4e-05_T{T}/score.json").read_text()) for T in (2, 1))
    chosen = json.loads((tmp_path / "results/selection/cifar10/cifar10_geometric/selection.json").read_text())
    assert own["reused_from"] in chosen["scores"] and (own["iteration"], own["fid"]) == (
        chosen["iteration"],
        chosen["fid"],
    )
    assert "reused_from" not in other and (cells / "eps4e-05_T2/samples.npz").is_file()
    # ... and the figure's table marks it (the heat map prints it with a *: biased low, it won the selection)
    sweep = pd.read_csv(tmp_path / "results/figures/cifar10/cifar10_geometric/sweep.csv").set_index("T")
    assert bool(sweep.loc[2, "selection_score"]) and not bool(sweep.loc[1, "selection_score"])
