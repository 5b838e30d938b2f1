"""``ncsn figure KIND``: the image experiments' figures from workflow artifacts.

    ncsn figure samples --samples SHARD.npz [...] --settings '{"num_images": 100}' --out grid.png
    ncsn figure intermediate --selection selection.json --settings '{"sampling": {...}, "device", "seed", "num_chains": 8}' --out fig4.png
    ncsn figure inpainting --selection selection.json --data test.npz \
        --settings '{"sampling": {...}, "device", "seed", "num_images": 4, "samples_per_image": 4, "masks": ["right_half"]}' --out fig6.png
    ncsn figure loss --input NAME=loss.csv [...] --out loss.png
    ncsn figure fid-checkpoints --input NAME=fid_vs_checkpoint.csv [...] --out fid.png
    ncsn figure sweep --input EPS,T=score.json [...] --settings '{"num_images": 36}' --out sweep.png

samples: uncurated grid (paper Figs. 5, 7); intermediate: annealed Langevin snapshots, one row
per chain, one column per noise level (Fig. 4); inpainting: Alg. 2 with occlusion masks,
rows = occluded input, completions, original (Fig. 6, [Re] Figs. 7, 18); loss: training loss
curves ([Re] Fig. 12); fid-checkpoints: FID per checkpoint ([Re] Fig. 13); sweep: FID over the
eps x T grid as a heat map plus a sample grid per cell ([Re] Fig. 8; each score.json's folder
holds its samples.npz).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ncsn.commands.options import add_settings_argument, named_path, selected_checkpoint
from ncsn.errors import NcsnError
from ncsn.records import FID, FID_CLEANFID, INCEPTION_SCORE

KINDS = ("samples", "intermediate", "inpainting", "loss", "fid-checkpoints", "sweep")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS)
    add_settings_argument(parser, "figure {kind}", "JSON settings of the figure (see the module help)")
    parser.add_argument("--samples", nargs="+", type=Path, default=[], help="sample shards (samples)")
    parser.add_argument(
        "--selection", type=Path, help="selection.json naming the checkpoint (intermediate, inpainting)"
    )
    parser.add_argument("--data", type=Path, help="prepared split whose images are occluded (inpainting)")
    parser.add_argument(
        "--input",
        type=named_path,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="loss.csv / fid_vs_checkpoint.csv per experiment, or EPS,T=score.json (sweep)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write (plots also get a PDF beside it)")


def require_files(paths: list[Path], what: str) -> None:
    if not paths:
        raise NcsnError(f"no {what} given")
    for path in paths:
        if path is None or not Path(path).is_file():
            raise NcsnError(f"{what} {path} does not exist; run the workflow step that writes it")


def load_selected_model(args: argparse.Namespace):
    """The selected checkpoint's model, sigmas, info, sampling options, device and seed."""
    from ncsn.checkpoint import load_score_model
    from ncsn.device import select_device, setup_threads

    if args.selection is None:
        raise NcsnError("no --selection given")
    opts = args.envelope["sampling"]
    setup_threads()
    device = select_device(args.envelope["device"])
    model, sigmas, info = load_score_model(selected_checkpoint(args.selection), device, use_ema=opts["use_ema"])
    return model, sigmas, info, opts, device, args.envelope["seed"]


def figure_samples(args: argparse.Namespace) -> list[Path]:
    from ncsn.generate import load_shards
    from ncsn.plots import grid_scale, save_image_grid

    require_files(args.samples, "--samples shard")
    images, _ = load_shards(args.samples)
    n = min(args.envelope["num_images"], len(images))
    ncols = int(np.ceil(np.sqrt(n)))
    return [save_image_grid(images[:n], args.out, ncols=ncols, scale=grid_scale(images.shape[1]))]


def figure_intermediate(args: argparse.Namespace) -> list[Path]:
    import torch

    from ncsn import sampling
    from ncsn.generate import run_sampler
    from ncsn.models import image_shape
    from ncsn.plots import grid_scale, save_image_grid, stack_snapshots

    num_chains = args.envelope["num_chains"]
    model, sigmas, info, opts, device, seed = load_selected_model(args)
    spec = info["model_spec"]
    generator = torch.Generator(device=device).manual_seed(seed)
    x = sampling.uniform_init((num_chains, *image_shape(spec)), generator=generator, device=device)
    _, snaps = run_sampler(model, x, sigmas, opts, generator, snapshots=True)
    frames = [s.numpy() for s in snaps]
    tiles = stack_snapshots(frames, num_chains)
    return [save_image_grid(tiles, args.out, ncols=len(frames), scale=grid_scale(spec["image_size"]))]


def figure_inpainting(args: argparse.Namespace) -> list[Path]:
    import torch

    from ncsn.data import load_split
    from ncsn.inpainting import inpaint_panels
    from ncsn.plots import grid_scale, save_image_grid

    num_images, per_image, masks = (args.envelope[key] for key in ("num_images", "samples_per_image", "masks"))
    require_files([args.data], "--data")
    images, _ = load_split(args.data)
    model, sigmas, info, opts, device, seed = load_selected_model(args)
    originals = torch.from_numpy(images[:num_images]).permute(0, 3, 1, 2).float().div(255.0).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    tiles = inpaint_panels(model, originals, masks, per_image, sigmas, opts, generator).cpu().numpy()
    return [save_image_grid(tiles, args.out, ncols=per_image + 2, scale=grid_scale(originals.shape[-1]))]


def read_tables(args: argparse.Namespace, what: str):
    import pandas as pd

    require_files([p for _, p in args.input], what)
    return pd.concat([pd.read_csv(path).assign(experiment=name) for name, path in args.input], ignore_index=True)


def figure_loss(args: argparse.Namespace) -> list[Path]:
    from ncsn.plots import plot_loss_curves

    table = read_tables(args, "--input loss.csv")
    return plot_loss_curves(table, args.out, hue="experiment", col="experiment", title="Training loss ([Re] Fig. 12)")


def figure_fid_checkpoints(args: argparse.Namespace) -> list[Path]:
    from ncsn.plots import plot_fid_vs_checkpoint

    table = read_tables(args, "--input fid_vs_checkpoint.csv")
    selected = {row.experiment: int(row.iteration) for row in table.itertuples() if int(row.selected)}
    return plot_fid_vs_checkpoint(table, args.out, selected)


def figure_sweep(args: argparse.Namespace) -> list[Path]:
    import pandas as pd

    from ncsn.generate import load_shard
    from ncsn.io import atomic_path
    from ncsn.plots import image_grid, plot_sweep_heatmap, plot_sweep_samples
    from ncsn.records import SCORE
    from ncsn.sweep import parse_cell_label

    if not args.input:
        raise NcsnError("no --input score.json given")
    rows, grids = [], {}
    for name, path in args.input:
        eps, steps = parse_cell_label(name)
        score = SCORE.read(path)
        rows.append(
            {
                "eps": eps,
                "T": steps,
                FID: score[FID],
                FID_CLEANFID: score[FID_CLEANFID],
                "is_mean": score[INCEPTION_SCORE]["mean"],
                "num_samples": score["num_samples"],
                "fid_low": ((score.get("intervals") or {}).get(FID) or [None, None])[0],
                "fid_high": ((score.get("intervals") or {}).get(FID) or [None, None])[1],
                # the cell at the experiment's own eps and T copies the chosen checkpoint's selection score
                "selection_score": bool(score.get("reused_from")),
            }
        )
        if score["samples"] and Path(score["samples"]).is_file():  # the samples the score was computed on
            images, _ = load_shard(score["samples"])
            n = min(args.envelope["num_images"], len(images))
            grids[(eps, steps)] = image_grid(images[:n], int(np.ceil(np.sqrt(n))))
    table = pd.DataFrame(rows).sort_values(["eps", "T"])
    with atomic_path(args.out.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False)
    written = [args.out.with_suffix(".csv")]
    written += plot_sweep_heatmap(table, args.out, title="FID over step size and steps per level ([Re] Fig. 8)")
    if grids:
        written += plot_sweep_samples(grids, table, args.out.with_name(args.out.stem + "_samples.png"))
    return written


def run(args: argparse.Namespace) -> int:
    runner = {
        "samples": figure_samples,
        "intermediate": figure_intermediate,
        "inpainting": figure_inpainting,
        "loss": figure_loss,
        "fid-checkpoints": figure_fid_checkpoints,
        "sweep": figure_sweep,
    }[args.kind]
    for path in runner(args):
        print(path)
    return 0
