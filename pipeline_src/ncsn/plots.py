"""Figures of both papers drawn with matplotlib/seaborn: plots as PNG + PDF, image grids as PNG.

Every writer is atomic (temporary file beside the target, then ``os.replace``) and uses the
non-interactive Agg backend, so figures render on headless cluster nodes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from PIL import Image  # noqa: E402

from ncsn.errors import NcsnError  # noqa: E402
from ncsn.io import atomic_path  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")


def plot_paths(png: str | os.PathLike) -> tuple[Path, Path]:
    """The PNG and its sibling PDF that :func:`save_figure` writes."""
    png = Path(png)
    return png, png.with_suffix(".pdf")


def save_figure(fig: plt.Figure, png: str | os.PathLike, pdf: bool = True, dpi: int = 150) -> list[Path]:
    """Save ``fig`` as PNG (and PDF beside it when ``pdf``), atomically; close it; return the paths."""
    targets = [Path(png)] + ([plot_paths(png)[1]] if pdf else [])
    try:
        for target in targets:
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=target.suffix.lstrip("."), dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return targets


def to_uint8_images(images: np.ndarray) -> np.ndarray:
    """Bring images to uint8 NHWC: accepts uint8 NHWC or float NCHW/NHWC in [0, 1] (clipped)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise NcsnError(f"expected a batch of images with 4 dimensions, got shape {images.shape}")
    if images.dtype != np.uint8:
        if images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
            images = images.transpose(0, 2, 3, 1)
        images = np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)
    return images


def image_grid(images: np.ndarray, ncols: int, pad: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile a batch of images (uint8 NHWC, or float in [0, 1]) into one HWC uint8 array, row-major."""
    images = to_uint8_images(images)
    n, h, w, c = images.shape
    if n == 0:
        raise NcsnError("cannot draw an image grid of zero images")
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), pad_value, dtype=np.uint8)
    for k in range(n):
        r, col = divmod(k, ncols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = images[k]
    return grid


def save_image(array: np.ndarray, png: str | os.PathLike, scale: int = 1) -> Path:
    """Write an HWC uint8 array as PNG (nearest-neighbour upscaled by ``scale``), atomically."""
    if scale > 1:
        array = array.repeat(scale, axis=0).repeat(scale, axis=1)
    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    with atomic_path(png) as tmp:
        image.save(tmp, format="PNG")
    return Path(png)


def save_image_grid(images: np.ndarray, png: str | os.PathLike, ncols: int, scale: int = 1) -> Path:
    """Tile ``images`` with :func:`image_grid` and save the grid as a PNG."""
    return save_image(image_grid(images, ncols), png, scale)


def grid_scale(image_size: int, target: int = 32) -> int:
    """Upscaling factor that shows small images (e.g. 8x8 digits) at about ``target`` pixels."""
    return max(1, target // image_size)


def save_rows_with_separator(
    left: np.ndarray, right: np.ndarray, png: str | os.PathLike, scale: int = 1, separator: tuple = (220, 0, 0)
) -> Path:
    """One row per query: ``left[i]`` (one image each), a red bar, then the row of images ``right[i]``.

    The layout of the papers' nearest-neighbour figures (samples left of a red line).
    """
    left, right = to_uint8_images(left), np.asarray(right)
    if right.ndim != 5 or right.shape[0] != left.shape[0]:
        raise NcsnError(f"right must be (N, k, H, W, C) with N = {left.shape[0]}, got {right.shape}")
    n, k = right.shape[:2]
    h, w, c = left.shape[1:]
    left_grid = image_grid(left, ncols=1)
    right_grid = image_grid(to_uint8_images(right.reshape(n * k, h, w, c)), ncols=k)
    bar = np.zeros((left_grid.shape[0], max(1, w // 4), 3), dtype=np.uint8)
    bar[:] = separator
    if c == 1:
        left_grid, right_grid = (np.repeat(g, 3, axis=-1) for g in (left_grid, right_grid))
    return save_image(np.concatenate([left_grid, bar, right_grid], axis=1), png, scale)


def plot_loss_curves(
    curves: pd.DataFrame,
    png: str | os.PathLike,
    *,
    hue: str,
    col: str | None = None,
    title: str = "",
    logy: bool = False,
    smooth: int | None = None,
    sharey: bool = False,
) -> list[Path]:
    """Line plot of ``loss`` against ``iteration``, one line per ``hue`` value (one panel per ``col``).

    ``smooth`` (a number of logged values) draws each line's trailing running mean on top of the
    raw values, which stay visible (thinner, lighter). ``logy`` uses a symmetric log scale (losses
    may be negative), linear within 1% of the largest |loss| (rounded to a power of ten);
    ``sharey`` puts all panels on one y scale.
    """
    for column in ("iteration", "loss", hue) + ((col,) if col else ()):
        if column not in curves.columns:
            raise NcsnError(f"loss table lacks the column {column!r} (has {list(curves.columns)})")
    sparse = curves.groupby([hue] + ([col] if col else [])).size().max() <= 50  # mark points of short logs
    hue_order = list(dict.fromkeys(curves[hue]))
    palette = dict(zip(hue_order, sns.color_palette(n_colors=len(hue_order))))
    raw_style = {"alpha": 0.45, "linewidth": 0.7} if smooth else {}
    grid = sns.relplot(
        data=curves,
        x="iteration",
        y="loss",
        hue=hue,
        col=col,
        kind="line",
        height=3.0,
        aspect=1.3,
        facet_kws={"sharey": sharey},
        errorbar=None,
        marker="o" if sparse else None,
        hue_order=hue_order,
        palette=palette,
        **raw_style,
    )
    if smooth:
        for panel, ax in grid.axes_dict.items() if col else [(None, grid.ax)]:
            shown = curves if col is None else curves[curves[col] == panel]
            for name, group in shown.groupby(hue, sort=False):
                mean = group.sort_values("iteration")
                mean = mean["loss"].rolling(int(smooth), min_periods=1).mean().set_axis(mean["iteration"])
                (line,) = ax.plot(
                    mean.index,
                    mean.to_numpy(),
                    color=palette[name],
                    linewidth=1.8,
                    label=f"running mean ({int(smooth)} values)",
                )
            ax.legend(handles=[line], loc="best", fontsize="small")
    if logy:
        largest = float(np.nanmax(np.abs(curves["loss"].to_numpy(dtype=float))))
        linthresh = 10.0 ** (np.floor(np.log10(largest)) - 2) if largest > 0 else 1.0
        for ax in grid.axes.flat:
            ax.set_yscale("symlog", linthresh=linthresh)
            ax.set_yticks([t for t in ax.get_yticks() if t == 0 or abs(t) >= linthresh])  # no crowding near 0
    if title:
        grid.figure.suptitle(title, y=1.03)
    return save_figure(grid.figure, png)


def plot_score_fields(
    grid_xy: np.ndarray,
    density: np.ndarray,
    fields: Mapping[str, np.ndarray],
    png: str | os.PathLike,
    title: str = "",
) -> list[Path]:
    """Paper Fig. 2: the data density (orange colour map) under one quiver plot per score field.

    ``grid_xy`` is (G, G, 2) coordinates and each field (G, G, 2); ``density`` is any square image over the same window.
    """
    fig, axes = plt.subplots(1, len(fields) + 1, figsize=(3.6 * (len(fields) + 1), 3.4), squeeze=False)
    axes = axes[0]
    extent = (grid_xy[..., 0].min(), grid_xy[..., 0].max(), grid_xy[..., 1].min(), grid_xy[..., 1].max())
    axes[0].imshow(density, origin="lower", extent=extent, cmap="Oranges")
    axes[0].set_title("data density")
    for ax, (name, field) in zip(axes[1:], fields.items()):
        ax.imshow(density, origin="lower", extent=extent, cmap="Oranges", alpha=0.7)
        ax.quiver(grid_xy[..., 0], grid_xy[..., 1], field[..., 0], field[..., 1], angles="xy", color="k", width=0.004)
        ax.set_title(name)
    for ax in axes:
        ax.set_aspect("equal")
        ax.grid(False)
    if title:
        fig.suptitle(title)
    return save_figure(fig, png)


def plot_point_sets(
    points: Mapping[str, np.ndarray], png: str | os.PathLike, limits: float, title: str = ""
) -> list[Path]:
    """Paper Fig. 3: one scatter panel of 2-D samples per method, on a shared square window."""
    fig, axes = plt.subplots(1, len(points), figsize=(3.2 * len(points), 3.3), squeeze=False)
    for ax, (name, xy) in zip(axes[0], points.items()):
        xy = np.asarray(xy)
        finite = xy[np.isfinite(xy).all(axis=1)]
        ax.scatter(finite[:, 0], finite[:, 1], s=2, alpha=0.6)
        ax.set_xlim(-limits, limits)
        ax.set_ylim(-limits, limits)
        ax.set_aspect("equal")
        ax.set_title(name if len(finite) == len(xy) else f"{name}\n({len(xy) - len(finite)} of {len(xy)} diverged)")
    if title:
        fig.suptitle(title)
    return save_figure(fig, png)


def plot_fid_vs_checkpoint(
    table: pd.DataFrame, png: str | os.PathLike, selected: Mapping[str, int] | None = None
) -> list[Path]:
    """[Re] Fig. 13: FID on the selection sample count per checkpoint, one line per experiment; with a
    ``heldout_loss`` column, the held-out DSM loss beside it (dashed, right axis)."""
    for column in ("experiment", "iteration", "fid"):
        if column not in table.columns:
            raise NcsnError(f"FID-per-checkpoint table lacks the column {column!r} (has {list(table.columns)})")
    fig, ax = plt.subplots(figsize=(5.6 if "heldout_loss" in table.columns else 5.0, 3.4))
    names = list(dict.fromkeys(table["experiment"]))
    palette = dict(zip(names, sns.color_palette(n_colors=len(names))))
    scored = table.dropna(subset=["fid"])
    sns.lineplot(data=scored, x="iteration", y="fid", hue="experiment", palette=palette, marker="o", ax=ax)
    if {"fid_low", "fid_high"} <= set(table.columns):  # half-sample intervals of the selection FIDs (E FID_n)
        for name, rows in scored.dropna(subset=["fid_low", "fid_high"]).groupby("experiment"):
            ax.errorbar(
                rows["iteration"],
                rows["fid"],
                yerr=[rows["fid"] - rows["fid_low"], rows["fid_high"] - rows["fid"]],
                fmt="none",
                ecolor=palette[name],
                capsize=3,
                alpha=0.7,
            )
    if "heldout_loss" in table.columns and table["heldout_loss"].notna().any():
        loss_ax = ax.twinx()
        sns.lineplot(
            data=table.dropna(subset=["heldout_loss"]),
            x="iteration",
            y="heldout_loss",
            hue="experiment",
            marker="x",
            linestyle="--",
            ax=loss_ax,
            legend=False,
        )
        loss_ax.set_ylabel("held-out DSM loss (dashed)")
    for name, iteration in (selected or {}).items():
        row = table[(table["experiment"] == name) & (table["iteration"] == iteration)]
        if len(row):
            ax.scatter(row["iteration"], row["fid"], s=90, facecolors="none", edgecolors="red", zorder=5)
    ax.set_ylabel("FID (selection samples)")
    ax.set_title("FID per checkpoint (red circle: selected; bars: 95% sampling noise at n, E FID_n)", fontsize=9)
    return save_figure(fig, png)


def plot_sweep_heatmap(table: pd.DataFrame, png: str | os.PathLike, title: str = "") -> list[Path]:
    """[Re] Fig. 8: FID over the grid of step size ``eps`` (rows) and steps per level ``T`` (columns)."""
    for column in ("eps", "T", "fid"):
        if column not in table.columns:
            raise NcsnError(f"sweep table lacks the column {column!r} (has {list(table.columns)})")
    pivot = table.pivot_table(index="eps", columns="T", values="fid")
    labels = pivot.map(lambda v: f"{v:.1f}")
    for row in table.itertuples():
        if getattr(row, "selection_score", False):  # the chosen checkpoint's own (minimal) selection score
            labels.loc[row.eps, row.T] += "*"
    fig, ax = plt.subplots(figsize=(1.4 + 1.1 * pivot.shape[1], 1.2 + 0.7 * pivot.shape[0]))
    sns.heatmap(pivot, annot=labels, fmt="", cmap="viridis_r", ax=ax, cbar_kws={"label": "FID"})
    if "selection_score" in table.columns and table["selection_score"].any():
        title = (title + "\n" if title else "") + "* the selection score of the chosen checkpoint (biased low)"
    ax.set_yticklabels([f"{v:.1e}" for v in pivot.index], rotation=0)
    ax.set_xlabel("T (steps per noise level)")
    ax.set_ylabel("eps (step size)")
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, png)


def plot_sweep_samples(
    grids: Mapping[tuple[float, int], np.ndarray], table: pd.DataFrame, png: str | os.PathLike
) -> list[Path]:
    """One sample grid per (eps, T) cell, titled with its FID ([Re] Fig. 8); ``table`` has columns eps, T, fid."""
    eps_values, t_values = sorted(table["eps"].unique()), sorted(table["T"].unique())
    fig, axes = plt.subplots(
        len(eps_values), len(t_values), figsize=(2.2 * len(t_values), 2.3 * len(eps_values)), squeeze=False
    )
    for i, eps in enumerate(eps_values):
        for j, steps in enumerate(t_values):
            ax = axes[i][j]
            ax.axis("off")
            if (eps, steps) in grids:
                grid = grids[(eps, steps)]
                ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255)
                fid = table[(table["eps"] == eps) & (table["T"] == steps)]["fid"].iloc[0]
                ax.set_title(f"eps={eps:.0e}, T={steps}\nFID {fid:.1f}", fontsize=8)
    return save_figure(fig, png, pdf=False)


def stack_snapshots(snapshots: Sequence[np.ndarray], n_chains: int) -> np.ndarray:
    """Paper Fig. 4 layout: row r shows chain r at successive snapshots (left to right)."""
    frames = [to_uint8_images(s)[:n_chains] for s in snapshots]
    return np.stack(frames, axis=1).reshape(-1, *frames[0].shape[1:])


def plot_fid_by_seed(runs: pd.DataFrame, summary: pd.DataFrame, png: str | os.PathLike) -> list[Path]:
    """FID of every run (dots, with its half-sample interval: sampling noise at n) and each experiment's mean over seeds with
    its interval (black), one column per experiment (the report's seeds table)."""
    fig, ax = plt.subplots(figsize=(1.2 + 1.4 * len(summary), 3.4))
    for x, row in enumerate(summary.itertuples()):
        mine = runs[runs["seed_of"] == row.experiment]
        offsets = np.linspace(-0.2, 0.2, len(mine)) if len(mine) > 1 else np.zeros(1)
        for dx, run in zip(offsets, mine.itertuples()):
            low, high = run.fid_low, run.fid_high
            yerr = None if pd.isna(low) else [[run.fid - low], [high - run.fid]]
            ax.errorbar(x + dx, run.fid, yerr=yerr, fmt="o", color="tab:blue", capsize=2, alpha=0.7)
        if not pd.isna(row.fid_mean_low):
            mean_err = [[row.fid_mean - row.fid_mean_low], [row.fid_mean_high - row.fid_mean]]
        else:
            mean_err = None
        ax.errorbar(x + 0.35, row.fid_mean, yerr=mean_err, fmt="s", color="black", capsize=4)
    ax.set_xticks(range(len(summary)), summary["experiment"], rotation=15, fontsize=8)
    ax.set_ylabel("FID (final samples)")
    ax.set_title("runs (blue: sampling noise at n, E FID_n) and mean over seeds (black: t interval)", fontsize=8)
    return save_figure(fig, png)
