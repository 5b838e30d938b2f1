"""``python -m ncsn evaluate``: final IS (mean ± std over splits) and FID (torch-fidelity, clean-fid) of sampled shards."""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_extractor_arguments, add_settings_argument, add_threads_argument
from ncsn.records import FID, FID_CLEANFID, INCEPTION_SCORE, KID


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", nargs="+", required=True, help="all K shard files of one draw (`ncsn sample`)")
    add_extractor_arguments(parser)
    parser.add_argument(
        "--ref-data",
        default=None,
        help="the training split the reference statistics describe (recorded; must match them)",
    )
    add_settings_argument(
        parser,
        "evaluate",
        'JSON {"evaluation": {"num_samples": 50000, "shards": 1, "is_splits": 10}, "device": "auto", "intervals": {...}}; '
        "num_samples/shards must match the shards",
    )
    add_threads_argument(parser)
    parser.add_argument(
        "--out", required=True, help="metrics JSON to write (results/eval/DATASET/EXPERIMENT/metrics.json)"
    )


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from ncsn.device import select_device, setup_threads
    from ncsn.errors import NcsnError
    from ncsn.generate import load_shard, load_shards
    from ncsn.metrics.bootstrap import intervals
    from ncsn.metrics.fid_infinity import fid_infinity
    from ncsn.metrics.fidelity import LIBRARY_VERSIONS, image_statistics, quality, summary_line
    from ncsn.metrics.refstats import extractor_for_reference
    from ncsn.records import METRICS

    began = time.perf_counter()
    evaluation, interval_settings = args.envelope["evaluation"], args.envelope["intervals"]
    if args.ref_data and not Path(args.ref_data).is_file():
        raise NcsnError(f"--ref-data {args.ref_data} does not exist")
    setup_threads(args.threads)
    device = select_device(args.envelope["device"])
    extractor, reference, ref_meta = extractor_for_reference(
        args.refstats, args.extractor, device, args.extractor_settings
    )
    if args.ref_data and Path(args.ref_data).resolve() != Path(ref_meta["data"]).resolve():
        raise NcsnError(
            f"{args.refstats} describe {ref_meta['data']}, not --ref-data {args.ref_data}; run ref-stats for it"
        )
    _, first = load_shard(args.samples[0], with_images=False)
    for key, found in (("num_samples", first["num_samples"]), ("shards", first["num_shards"])):
        if evaluation[key] != found:
            raise NcsnError(
                f"evaluation.{key} is {evaluation[key]} but the shards hold {found}; sample again with the current settings"
            )
    images, shards = load_shards(args.samples)
    stats = image_statistics(
        images, extractor, is_splits=evaluation["is_splits"], keep_all=True, cleanfid=evaluation["cleanfid"]
    )
    measured = quality(stats, reference)
    metrics = {
        **measured,
        "fid_infinity": fid_infinity(stats.fid_features[0], reference.torch_fidelity, interval_settings, measured[FID]),
        "intervals": intervals(stats, reference, interval_settings),
        "recognisable": stats.recognisable,  # None unless the extractor classifies the data (digits)
        "recognisable_real": extractor.identity.get("test_recognisable"),  # the same share for the real test split
        "num_samples": int(len(images)),
        "extractor": extractor.identity,
        "reference": {
            "path": str(args.refstats),
            "data": ref_meta["data"],
            "num_images": ref_meta["num_images"],
            INCEPTION_SCORE: ref_meta[INCEPTION_SCORE],
        },
        "samples": {
            "shards": [str(p) for p in args.samples],
            **{k: first.get(k) for k in ("checkpoint", "iteration", "ema", "seed", "sampling", "num_shards")},
            "sampling_seconds": round(sum(s["seconds"] for s in shards), 3),
        },
        "libraries": {
            "is": "torch-fidelity isc_features_to_metric per split",
            FID: "torch-fidelity fid_statistics_to_metric",
            FID_CLEANFID: "clean-fid frechet_distance"
            if evaluation["cleanfid"]
            else "not computed (evaluation.cleanfid: false)",
            KID: "torch-fidelity kid_features_to_metric on the FID features",
            "precision_recall": "torch-fidelity prc_features_to_metric on the FID features",
            "intervals": "ncsn.metrics.bootstrap: half-sampling (docs/metrics.md)",
            "fid_infinity": "ncsn.metrics.fid_infinity: Chong & Forsyth 2020 (docs/metrics.md)",
            **LIBRARY_VERSIONS,
        },
        "seconds": round(time.perf_counter() - began, 3),
    }
    METRICS.write(args.out, metrics)
    print(f"{summary_line(metrics)} on {len(images)} samples -> {args.out}")
    return 0
