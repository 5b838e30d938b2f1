"""``python -m ncsn fetch``: download one file and publish it only if its SHA-256 is the expected one."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="where to download the file from")
    parser.add_argument("--sha256", help="its published SHA-256 (hex); omitted = not verified")
    parser.add_argument("--out", required=True, help="path to write it to (atomically; nothing on failure)")


def run(args: argparse.Namespace) -> int:
    from ncsn.verified_download import fetch_verified

    found = fetch_verified(args.url, args.out, args.sha256)
    print(f"{args.out}: sha256 {found}" + ("" if args.sha256 else " (not verified: no --sha256)"))
    return 0
