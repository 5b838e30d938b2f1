"""Figure, neighbours and report commands on the artifacts of a tiny real run (digits, 4 iterations).

The fixture runs the library's own commands (prepare, train, train-extractor, ref-stats,
score, select, sample, evaluate) exactly as the workflow does, at toy sizes.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ncsn.cli import main
from ncsn.plots import image_grid

SAMPLING = {"method": "annealed", "n_steps_each": 2, "eps": 2e-5, "batch_size": 64}
EXPERIMENT = {
    "dataset": "digits",
    "model": {"arch": "refinenet", "ngf": 8},
    "schedule": {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 3},
    "training": {"iterations": 4, "batch_size": 16, "snapshot_freq": 2},
    "evaluation": {"num_samples": 40},
}


def cli(*args) -> None:
    assert main([str(a) for a in args]) == 0, args


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_run")
    cli(
        "prepare",
        "--name",
        "digits",
        "--settings",
        json.dumps({"source": "digits", "test_fraction": 0.2}),
        "--out-dir",
        root / "data",
    )
    train_settings = {k: EXPERIMENT[k] for k in ("model", "schedule", "training")}
    cli(
        "train",
        "--data",
        root / "data/train.npz",
        "--state-dir",
        root / "state",
        "--out-dir",
        root / "run",
        "--threads",
        "1",
        "--settings",
        json.dumps({**train_settings, "device": "cpu", "seed": 0}),
    )
    cli(
        "train-extractor",
        "--train",
        root / "data/train.npz",
        "--test",
        root / "data/test.npz",
        "--out",
        root / "ext/model.pt",
        "--accuracy",
        root / "ext/accuracy.json",
        "--settings",
        json.dumps({"extractor": {"kind": "digits", "dataset": "digits", "epochs": 1, "min_accuracy": 0.0}}),
    )
    cli(
        "ref-stats",
        "--data",
        root / "data/train.npz",
        "--extractor",
        root / "ext/model.pt",
        "--out",
        root / "ref.npz",
        "--settings",
        json.dumps({"extractor": {"kind": "digits", "dataset": "digits"}, "device": "cpu"}),
    )
    settings = json.dumps({"sampling": SAMPLING, "device": "cpu", "seed": 0})
    scores, losses = [], []
    for name in json.loads((root / "run/run.json").read_text())["checkpoints"]:
        losses.append(root / "heldout" / name.replace(".pt", ".json"))
        cli(
            "heldout-loss",
            "--checkpoint",
            root / "run/checkpoints" / name,
            "--data",
            root / "data/test.npz",
            "--settings",
            json.dumps({"heldout": {"num_images": 64}, "device": "cpu"}),
            "--out",
            losses[-1],
        )
        cell = root / "scores" / name.removesuffix(".pt")
        cli(
            "score",
            "--checkpoint",
            root / "run/checkpoints" / name,
            "--refstats",
            root / "ref.npz",
            "--extractor",
            root / "ext/model.pt",
            "--num-samples",
            "16",
            "--settings",
            settings,
            "--out",
            cell / "score.json",
            "--samples-out",
            cell / "samples.npz",
        )
        scores.append(cell / "score.json")
    cli(
        "select",
        "--run",
        root / "run/run.json",
        "--scores",
        *scores,
        "--losses",
        *losses,
        "--settings",
        json.dumps({"criterion": "fid", "num_samples": 16}),
        "--out",
        root / "selection.json",
        "--table",
        root / "fid_vs_checkpoint.csv",
    )
    cli(
        "sample",
        "--selection",
        root / "selection.json",
        "--num-samples",
        "40",
        "--settings",
        settings,
        "--out",
        root / "shard_0_of_1.npz",
    )
    cli(
        "evaluate",
        "--samples",
        root / "shard_0_of_1.npz",
        "--refstats",
        root / "ref.npz",
        "--extractor",
        root / "ext/model.pt",
        "--settings",
        json.dumps({"evaluation": {"num_samples": 40, "shards": 1, "is_splits": 2}, "device": "cpu"}),
        "--out",
        root / "metrics.json",
    )
    return root


def png(path):
    assert path.is_file(), f"{path} was not written"
    return np.asarray(Image.open(path))


def test_samples_grid_shows_the_samples(run, tmp_path):
    out = tmp_path / "samples.png"
    cli("figure", "samples", "--samples", run / "shard_0_of_1.npz", "--settings", '{"num_images": 9}', "--out", out)
    with np.load(run / "shard_0_of_1.npz") as shard:
        want = image_grid(shard["images"][:9], ncols=3)
    assert np.array_equal(png(out), want.repeat(4, 0).repeat(4, 1)[..., 0])  # 8x8 digits are shown 4x


def test_intermediate_and_inpainting_figures(run, tmp_path):
    run_settings = {"sampling": SAMPLING, "device": "cpu", "seed": 0}
    settings = {**run_settings, "num_chains": 3}
    cli(
        "figure",
        "intermediate",
        "--selection",
        run / "selection.json",
        "--settings",
        json.dumps(settings),
        "--out",
        tmp_path / "fig4.png",
    )
    settings = {**run_settings, "num_images": 2, "samples_per_image": 2, "masks": ["right_half", "checkerboard"]}
    # 3 chains x (initial noise + one snapshot per noise level), 8x8 images with 1-pixel borders, shown 4x
    assert png(tmp_path / "fig4.png").shape == (4 * (3 * 9 + 1), 4 * (4 * 9 + 1))
    cli(
        "figure",
        "inpainting",
        "--selection",
        run / "selection.json",
        "--data",
        run / "data/test.npz",
        "--settings",
        json.dumps(settings),
        "--out",
        tmp_path / "fig6.png",
    )
    image = png(tmp_path / "fig6.png")
    # rows: 2 masks x 2 images; columns: occluded, 2 completions, original
    assert image.shape == (4 * (4 * 9 + 1), 4 * (4 * 9 + 1))
    with np.load(run / "data/test.npz") as data:
        first = data["images"][0, ..., 0]
    # the occluded input keeps the left half and blacks out the right half; the last column is the original
    cell = lambda r, c: image[4 * (1 + 9 * r) : 4 * (9 + 9 * r) : 4, 4 * (1 + 9 * c) : 4 * (9 + 9 * c) : 4]  # noqa: E731
    assert np.array_equal(cell(0, 0)[:, :4], first[:, :4]) and not cell(0, 0)[:, 4:].any()
    assert np.array_equal(cell(0, 3), first)
    # completions keep the observed pixels exactly
    assert np.array_equal(cell(0, 1)[:, :4], first[:, :4])


def test_loss_fid_and_sweep_plots(run, tmp_path):
    cli("figure", "loss", "--input", f"a={run / 'run/loss.csv'}", "--out", tmp_path / "loss.png")
    cli("figure", "fid-checkpoints", "--input", f"a={run / 'fid_vs_checkpoint.csv'}", "--out", tmp_path / "fid.png")
    assert pd.read_csv(run / "fid_vs_checkpoint.csv")["heldout_loss"].notna().all()
    cells = sorted((run / "scores").glob("*/score.json"))
    cli(
        "figure",
        "sweep",
        "--input",
        f"2e-05,2={cells[0]}",
        "--input",
        f"5e-05,4={cells[1]}",
        "--settings",
        '{"num_images": 4}',
        "--out",
        tmp_path / "sweep.png",
    )
    for name in ("loss", "fid", "sweep"):
        assert png(tmp_path / f"{name}.png").size > 10000 and (tmp_path / f"{name}.pdf").stat().st_size > 1000
    assert png(tmp_path / "sweep_samples.png").size > 10000
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert table[["eps", "T"]].values.tolist() == [[2e-05, 2], [5e-05, 4]]
    assert table["fid"].tolist() == [json.loads(c.read_text())["fid"] for c in cells]
    assert table["fid_low"].tolist() == [json.loads(c.read_text())["intervals"]["fid"][0] for c in cells]
    assert not table["selection_score"].any(), "drawn afresh: no cell repeats a selection score"


def test_neighbours_command_finds_copies_of_training_images(run, tmp_path):
    from ncsn.generate import save_shard

    with np.load(run / "data/train.npz") as data:
        train = data["images"]
    picked = [5, 17, 99]
    save_shard(
        tmp_path / "copies.npz",
        train[picked],
        {
            "num_samples": 3,
            "shard": 0,
            "num_shards": 1,
            "start": 0,
            "stop": 3,
            "seed": 0,
            "sampling": SAMPLING,
            "checkpoint": "none",
            "stream": "evaluation",
            "device": "cpu",
            "seconds": 0.0,
        },
    )
    cli(
        "neighbours",
        "--samples",
        tmp_path / "copies.npz",
        "--train",
        run / "data/train.npz",
        "--refstats",
        run / "ref.npz",
        "--extractor",
        run / "ext/model.pt",
        "--settings",
        '{"num_queries": 3, "k": 4, "device": "cpu"}',
        "--out-dir",
        tmp_path / "out",
    )
    with np.load(tmp_path / "out/neighbours.npz") as result:
        assert result["pixel_indices"].shape == result["feature_distances"].shape == (3, 4)
        # each copy finds its own training image at distance 0, in both spaces (unless an exact duplicate exists)
        for space in ("pixel", "feature"):
            first = result[f"{space}_indices"][:, 0]
            assert np.array_equal(train[first], train[picked])
            assert np.allclose(result[f"{space}_distances"][:, 0], 0.0, atol=1e-4)
            assert (np.diff(result[f"{space}_distances"], axis=1) >= 0).all()
    for space in ("pixel", "feature"):
        assert png(tmp_path / f"out/{space}.png").shape[0] == 4 * (3 * 9 + 1)
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert summary["num_queries"] == 3 and summary["pixel_nearest_distance"]["min"] < 1e-6


def test_report_command(run, tmp_path, capsys):
    bench = tmp_path / "bench.tsv"
    bench.write_text("s\th:m:s\tmax_rss\n8.0\t0:00:08\t100\n")
    settings = {
        "experiments": {"tiny": {**EXPERIMENT, "evaluation": {"num_samples": 40, "shards": 1}}},
        "device": "cpu",
    }
    cli(
        "report",
        "--settings",
        json.dumps(settings),
        "--metrics",
        f"tiny={run / 'metrics.json'}",
        "--selection",
        f"tiny={run / 'selection.json'}",
        "--train-benchmark",
        f"tiny={bench}",
        "--sample-benchmark",
        f"tiny={bench}",
        "--out-dir",
        tmp_path,
    )
    results = pd.read_csv(tmp_path / "results.csv")
    metrics = json.loads((run / "metrics.json").read_text())
    ours = results.iloc[0]
    assert ours["experiment"] == "tiny" and ours["extractor"] == "classifier" and ours["architecture"] == "refinenet"
    assert ours["fid"] == pytest.approx(metrics["fid"]) and ours["is_mean"] == pytest.approx(
        metrics["inception_score"]["mean"]
    )
    assert ours["selected_checkpoint"] == json.loads((run / "selection.json").read_text())["iteration"]
    timing = pd.read_csv(tmp_path / "timing.csv")
    assert timing.loc[0, "train_it_per_s"] == pytest.approx(4 / 8.0) and timing.loc[
        0, "seconds_per_1000_samples"
    ] == pytest.approx(200.0)
    assert re.search(r"\| this run \| tiny \| digits \|", (tmp_path / "results.md").read_text())
    low, high = metrics["intervals"]["fid"]  # the half-sample interval, in the CSV and inside the Markdown cell
    assert (ours["fid_low"], ours["fid_high"]) == pytest.approx((low, high))
    assert f"{metrics['fid']:.2f} [{low:.2f}, {high:.2f}]" in (tmp_path / "results.md").read_text()
    seeds = pd.read_csv(tmp_path / "seeds.csv")
    assert seeds.loc[0, "seeds"] == 1 and seeds.loc[0, "fid_mean_low"] == pytest.approx(low)
    assert (tmp_path / "comparisons.csv").is_file() and png(tmp_path / "fid_by_seed.png").ndim == 3
    # a metrics.json of a run before records had a format version: a rerun request, never a misread
    older = tmp_path / "older" / "metrics.json"
    older.parent.mkdir()
    older.write_text(json.dumps({k: v for k, v in metrics.items() if k != "format_version"}))
    argv = ["report", "--settings", json.dumps(settings), "--metrics", f"tiny={older}"]
    argv += ["--selection", f"tiny={run / 'selection.json'}", "--train-benchmark", f"tiny={bench}"]
    argv += ["--sample-benchmark", f"tiny={bench}", "--out-dir", str(tmp_path / "older")]
    assert main(argv) == 2  # the command line's NcsnError exit
    assert re.search(rf"{re.escape(str(older))} has no format version.*rerun rule evaluate", capsys.readouterr().err)


def test_figure_errors_name_the_problem(tmp_path, capsys):
    assert main(["figure", "samples", "--samples", str(tmp_path / "none.npz"), "--out", str(tmp_path / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(
            [
                "figure",
                "inpainting",
                "--selection",
                str(tmp_path / "s.json"),
                "--data",
                str(tmp_path / "d.npz"),
                "--settings",
                '{"masks": ["triangle"]}',
                "--out",
                str(tmp_path / "x.png"),
            ]
        )
        == 2
    )
    assert "masks.0: 'triangle' is not one of" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_occlusion_masks_hide_the_named_region():
    from ncsn.inpainting import MASKS, occlusion_mask

    assert MASKS == ("right_half", "left_half", "bottom_half", "centre_square", "checkerboard")
    assert occlusion_mask("right_half", 4, 4).tolist() == [[True, True, False, False]] * 4
    assert occlusion_mask("bottom_half", 2, 3).tolist() == [[True] * 3, [False] * 3]
    centre = occlusion_mask("centre_square", 8, 8)
    assert not centre[2:6, 2:6].any() and centre.sum() == 64 - 16
    board = occlusion_mask("checkerboard", 8, 8)
    assert board[0, 0] and not board[0, 2] and not board[2, 0] and board.sum() == 32


def test_the_sweep_figure_takes_each_cell_s_samples_from_its_score_record(run, tmp_path):
    """The samples file is the one the score names, whatever it is called; a score without one gets no grid."""
    from ncsn.records import SCORE

    source = sorted((run / "scores").glob("*/score.json"))[0]
    score = SCORE.read(source)
    renamed = tmp_path / "drawn_elsewhere.npz"
    shutil.copyfile(score["samples"], renamed)
    SCORE.write(tmp_path / "named" / "score.json", {**score, "samples": str(renamed)})
    SCORE.write(tmp_path / "none" / "score.json", {**score, "samples": None})
    shutil.copyfile(score["samples"], tmp_path / "none" / "samples.npz")  # beside it, but not named by it
    for cell, grid in (("named", True), ("none", False)):
        out = tmp_path / cell / "sweep.png"
        cli("figure", "sweep", "--input", f"2e-05,2={tmp_path / cell / 'score.json'}", "--out", out)
        assert (tmp_path / cell / "sweep_samples.png").is_file() == grid, cell
