"""``ncsn toy KIND``: the toy experiments of the paper (Sec. 3, Figs. 1-3) and the [Re] report (Sec. 4).

    ncsn toy ssm-noise --data results/data/digits/train.npz --settings JSON --out-dir results/toy/ssm_noise
    ncsn toy scores --settings JSON --out-dir results/toy/scores
    ncsn toy langevin-modes --settings JSON --out-dir results/toy/langevin_modes
    ncsn toy eps-sweep --settings JSON --out-dir results/toy/eps_sweep

``--settings`` is ``{"seed", "device", "gmm": {weights, means, std, noise}, "experiment": <the toy block>}``
(``gmm`` for all but ``ssm-noise``). Each kind writes its figure as PNG + PDF,
its numbers as CSV/JSON, and prints the paths it wrote.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ncsn.commands.options import add_settings_argument
from ncsn.errors import NcsnError
from ncsn.io import atomic_path, save_npz
from ncsn.records import TOY_DIVERGENCE, TOY_MODE_FRACTIONS, TOY_SCORES, TOY_SSM_NOISE

KINDS = ("ssm-noise", "scores", "langevin-modes", "eps-sweep")
FIGURE = {
    "ssm-noise": "fig1_ssm_loss.png",
    "scores": "fig2_scores.png",
    "langevin-modes": "fig3_langevin.png",
    "eps-sweep": "fig11_eps_sweep.png",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind", choices=KINDS, help="ssm-noise: Fig. 1; scores: Fig. 2; langevin-modes: Fig. 3; eps-sweep: [Re] Fig. 11"
    )
    add_settings_argument(parser, "toy {kind}", 'JSON {"seed", "device", "gmm", "experiment"}')
    parser.add_argument("--data", type=Path, help="train.npz of the image data set (ssm-noise only)")
    parser.add_argument("--out-dir", type=Path, required=True)


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return path


def mixture(block: dict[str, Any]):
    """The 2-D mixture of a filled ``toy.gmm`` block."""
    from ncsn.toy.gmm import GaussianMixture

    return GaussianMixture(
        weights=block["weights"], means=block["means"], std=float(block["std"]), noise=block["noise"]
    )


def run_ssm_noise(args: argparse.Namespace, block: dict[str, Any]) -> list[Path]:
    from ncsn.data import load_split
    from ncsn.device import select_device
    from ncsn.plots import plot_loss_curves
    from ncsn.toy.ssm_noise import run

    if args.data is None or not args.data.is_file():
        raise NcsnError(
            f"ssm-noise needs --data pointing to a prepared train.npz (got {args.data}); run `ncsn prepare` first"
        )
    images, _ = load_split(args.data)
    rows, summary = run(images, block, args.envelope["seed"], select_device(args.envelope["device"]))
    out = args.out_dir
    paths = [write_csv(rows, out / "loss.csv")]
    TOY_SSM_NOISE.write(out / "summary.json", summary)
    paths.append(out / "summary.json")
    paths += plot_loss_curves(
        pd.DataFrame(rows),
        out / FIGURE["ssm-noise"],
        hue="data",
        col="data",
        title="Sliced score matching loss: clean vs perturbed data (paper Fig. 1)",
        smooth=int(block["smooth_window"]),
        logy=True,
        sharey=True,
    )
    return paths


def run_scores(args: argparse.Namespace, block: dict[str, Any]) -> list[Path]:
    from ncsn.plots import plot_score_fields
    from ncsn.toy.scores import run

    gen = torch.Generator().manual_seed(args.envelope["seed"])
    result = run(block, mixture(args.envelope["gmm"]), gen)
    out = args.out_dir
    save_npz(out / "scores.npz", **{k: result[k] for k in ("grid", "density", "exact", "learned")})
    TOY_SCORES.write(out / "summary.json", result["summary"])
    paths = [out / "scores.npz", out / "summary.json", write_csv(result["loss_log"], out / "loss.csv")]
    paths += plot_score_fields(
        result["grid"],
        result["density"],
        {"exact scores": result["exact"], f"SSM-trained MLP ({block['iterations']} it.)": result["learned"]},
        out / FIGURE["scores"],
    )
    return paths


def run_langevin_modes(args: argparse.Namespace, block: dict[str, Any]) -> list[Path]:
    from ncsn.plots import plot_point_sets
    from ncsn.toy.langevin_modes import run

    gen = torch.Generator().manual_seed(args.envelope["seed"])
    points, rows = run(block, mixture(args.envelope["gmm"]), gen)
    out = args.out_dir
    save_npz(
        out / "samples.npz", **{k.replace(" ", "_").replace("(", "").replace(")", ""): v for k, v in points.items()}
    )
    TOY_MODE_FRACTIONS.write(out / "mode_fractions.json", {"rows": rows})
    paths = [out / "samples.npz", out / "mode_fractions.json", write_csv(rows, out / "mode_fractions.csv")]
    limit = float(block["init_half_width"]) * 1.25
    paths += plot_point_sets(
        points,
        out / FIGURE["langevin-modes"],
        limits=limit,
        title="Exact samples, Langevin and annealed Langevin with exact scores (paper Fig. 3)",
    )
    return paths


def run_eps_sweep(args: argparse.Namespace, block: dict[str, Any]) -> list[Path]:
    from ncsn.plots import plot_point_sets
    from ncsn.toy.eps_sweep import run

    gen = torch.Generator().manual_seed(args.envelope["seed"])
    points, rows = run(block, mixture(args.envelope["gmm"]), gen)
    out = args.out_dir
    TOY_DIVERGENCE.write(out / "divergence.json", {"rows": rows})
    paths = [out / "divergence.json", write_csv(rows, out / "divergence.csv")]
    schedule = f"sigmas {rows[0]['sigma_first']:g} -> {rows[0]['sigma_last']:g}"
    paths += plot_point_sets(
        points,
        out / FIGURE["eps-sweep"],
        limits=float(block["init_half_width"]) * 1.25,
        title=f"Annealed Langevin with exact scores over eps, {schedule} ([Re] Fig. 11)",
    )
    return paths


def run(args: argparse.Namespace) -> int:
    block = args.envelope["experiment"]
    runner = {
        "ssm-noise": run_ssm_noise,
        "scores": run_scores,
        "langevin-modes": run_langevin_modes,
        "eps-sweep": run_eps_sweep,
    }[args.kind]
    for path in runner(args, block):
        print(path)
    return 0
