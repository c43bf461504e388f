"""Command line: ``fracture-desktop [FOLDER]`` opens the viewer; subcommands work headless.

Only argument parsing lives here; each subcommand imports its module when it runs, so the
viewer starts without loading torch or the training stack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

SUBCOMMANDS = ("train", "evaluate", "export-model")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a network on FracAtlas (extra 'train')")
    p.add_argument("--arch", required=True, help="paper_cnn, fracture_net, efficientnet_b0, ...")
    p.add_argument("--data", required=True, type=Path, help="FracAtlas folder (with splits.csv)")
    p.add_argument("--out", required=True, type=Path, help="run folder: checkpoints and log")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--budget-minutes", type=float, default=30.0, help="wall-clock budget")
    p.add_argument("--patience", type=int, default=10, help="epochs without val gain")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="images per split (smoke tests)")
    p.add_argument("--cache-dir", type=Path, default=Path("cache"))
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")


def _run_train(args: argparse.Namespace) -> int:
    from fracture_desktop.training.train import TrainConfig, train

    config = TrainConfig(
        arch=args.arch,
        data=str(args.data),
        out=str(args.out),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        budget_minutes=args.budget_minutes,
        patience=args.patience,
        seed=args.seed,
        limit=args.limit,
        cache_dir=str(args.cache_dir),
        threads=args.threads,
    )
    print(train(config))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fracture-desktop", description=__doc__)
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check the installation end to end on the bundled samples, no window; exit 0 if ok",
    )
    parser.add_argument(
        "--model", type=Path, help="model folder for --self-test (default: the shipped model)"
    )
    sub = parser.add_subparsers(dest="command")
    _add_train(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        if args.command:
            parser.error("--self-test takes no subcommand")
        from fracture_desktop.self_test import run_self_test

        return run_self_test(args.model)
    if args.command == "train":
        return _run_train(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
