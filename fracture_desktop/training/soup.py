"""One network from several runs of one recipe: the mean of their weights.

Usage: ``python -m fracture_desktop.training.soup --out OUT RUN RUN [RUN ...]``.

Runs fine-tuned from the same start with the same recipe, differing only in their seed,
end close together in weight space; the element-wise mean of their weights (a "uniform
model soup", Wortsman et al., ICML 2022) is one network of the same cost that often ranks
better than any of them, and does not depend on which seed was drawn. Runs from different
starts or recipes need not lie in one basin, so their mean is refused.

The result is a run folder like ``train``'s (``best.pt``, ``config.json``,
``summary.json``) for ``evaluate``, ``fit-localiser`` and ``export-model``. Its
``summary.json`` holds the mean's val ROC-AUC per source, scored as ``train`` scores an
epoch (the worse source's, where there are several); ``test`` is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch

from fracture_desktop.training.architectures import architecture
from fracture_desktop.training.config import config_from_record
from fracture_desktop.training.loop import Validation
from fracture_desktop.training.scoring import predict_logits
from fracture_desktop.training.train import git_commit, run_data

#: Settings that must agree for runs to be one recipe; the seed, the output folder and the
#: machine's threads may differ.
RECIPE_FIELDS = (
    "arch",
    "data",
    "epochs",
    "lr",
    "weight_decay",
    "input_size",
    "init",
    "ema_decay",
    "localiser_weight",
    "shift_robust",
    "frozen_blocks",
    "holdout",
)


def mean_weights(state_dicts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of every floating-point tensor; integer tensors (batch norms'
    ``num_batches_tracked`` counters) are taken from the first, as they weigh nothing.

    Raises
    ------
    ValueError
        Fewer than two state dicts, or they differ in their names or shapes.
    """
    if len(state_dicts) < 2:
        raise ValueError("a mean of weights needs at least two runs")
    first = state_dicts[0]
    for other in state_dicts[1:]:
        if other.keys() != first.keys():
            raise ValueError("the runs' networks have different layers")
        for name, tensor in first.items():
            if other[name].shape != tensor.shape:
                raise ValueError(
                    f"{name}: shapes {tuple(tensor.shape)} and {tuple(other[name].shape)}"
                )
    return {
        name: (
            torch.stack([sd[name] for sd in state_dicts]).mean(dim=0)
            if tensor.is_floating_point()
            else tensor.clone()
        )
        for name, tensor in first.items()
    }


def soup(runs: list[Path], out: Path, threads: int = 0) -> Path:
    """Write the mean of ``runs``' chosen weights (``best.pt``) as a run folder ``out`` and
    score it on the runs' val splits; returns ``out / "best.pt"``.

    Raises
    ------
    ValueError
        The runs are not one recipe (:data:`RECIPE_FIELDS` differ) or not one network.
    """
    records = [json.loads((run / "config.json").read_text()) for run in runs]
    for run, record in zip(runs[1:], records[1:], strict=True):
        differ = [f for f in RECIPE_FIELDS if record.get(f) != records[0].get(f)]
        if differ:
            raise ValueError(f"{run} is not {runs[0]}'s recipe: {', '.join(differ)} differ")
    if threads:
        torch.set_num_threads(threads)
    weights = mean_weights([torch.load(run / "best.pt", weights_only=True) for run in runs])
    config = replace(config_from_record(records[0]), out=str(out), seed=-1)
    arch = architecture(config.arch, config.input_size)
    network = arch.build()
    network.load_state_dict(weights)
    found = run_data(config, arch.input_spec)
    val = found.val
    validation = Validation(
        val.inputs, val.labels, arch.input_spec.channels, found.sources, val.source_of
    )
    score, fields = validation.score(predict_logits(network, val.inputs, arch.input_spec.channels))
    out.mkdir(parents=True, exist_ok=True)
    torch.save(weights, out / "best.pt")
    record = {**asdict(config), "soup_of": [str(run) for run in runs]}
    (out / "config.json").write_text(json.dumps(record, indent=2))
    summary = {
        "arch": config.arch,
        "best_epoch": 0,
        "best_val_auc": score,
        "val": fields,
        "soup_of": [
            {"run": str(run), **json.loads((run / "summary.json").read_text())} for run in runs
        ],
        "parameters": sum(p.numel() for p in network.parameters()),
        "code_commit": git_commit(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return out / "best.pt"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fracture_desktop.training.soup")
    parser.add_argument("runs", nargs="+", type=Path, help="training run folders of one recipe")
    parser.add_argument("--out", required=True, type=Path, help="run folder to write")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    options = parser.parse_args(argv)
    try:
        soup(options.runs, options.out, options.threads)
    except (OSError, ValueError) as error:
        print(f"soup: {error}", file=sys.stderr)
        return 1
    print((options.out / "summary.json").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
