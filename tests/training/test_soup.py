"""The mean of several seeds' weights is one run folder, scored on val like an epoch, and
only runs of one recipe are averaged."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from fracture_desktop.training.config import TrainConfig
from fracture_desktop.training.soup import main, mean_weights, soup
from fracture_desktop.training.train import train


def test_floating_tensors_are_averaged_and_counters_kept() -> None:
    a = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(5)}
    b = {"w": torch.tensor([3.0, 7.0]), "n": torch.tensor(9)}
    mean = mean_weights([a, b])
    assert torch.equal(mean["w"], torch.tensor([2.0, 5.0]))
    assert mean["n"].item() == 5


@pytest.mark.parametrize(
    ("other", "reason"),
    [
        ({"w": torch.zeros(3)}, "shapes"),
        ({"v": torch.zeros(2)}, "different layers"),
    ],
)
def test_different_networks_are_refused(other: dict[str, torch.Tensor], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        mean_weights([{"w": torch.zeros(2)}, other])
    with pytest.raises(ValueError, match="at least two"):
        mean_weights([other])


def test_two_seeds_of_a_two_source_run_make_one_scored_run(
    two_sources: list[Path], smoke_config: TrainConfig, tmp_path: Path
) -> None:
    runs = []
    for seed in (0, 1):
        config = dataclasses.replace(
            smoke_config,
            data=tuple(map(str, two_sources)),
            limit=4,
            epochs=1,
            seed=seed,
            out=str(tmp_path / f"seed{seed}"),
        )
        train(config)
        runs.append(Path(config.out))
    best = soup(runs, tmp_path / "soup")
    seeds = [torch.load(run / "best.pt", weights_only=True) for run in runs]
    mean = torch.load(best, weights_only=True)
    name = next(k for k, v in mean.items() if v.is_floating_point() and v.numel() > 1)
    assert not torch.equal(seeds[0][name], seeds[1][name])
    assert torch.allclose(mean[name], (seeds[0][name] + seeds[1][name]) / 2)
    summary = json.loads((tmp_path / "soup" / "summary.json").read_text())
    per_source = [summary["val"]["val_auc_fracatlas"], summary["val"]["val_auc_mura_roboflow"]]
    assert summary["best_val_auc"] == min(per_source)
    assert [entry["run"] for entry in summary["soup_of"]] == [str(run) for run in runs]
    config = json.loads((tmp_path / "soup" / "config.json").read_text())
    assert config["arch"] == "fracture_net" and config["soup_of"] == [str(run) for run in runs]


def test_runs_of_different_recipes_are_refused(
    smoke_config: TrainConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = []
    for lr in (1e-3, 1e-2):
        run = tmp_path / f"lr{lr}"
        run.mkdir()
        record = dataclasses.asdict(dataclasses.replace(smoke_config, lr=lr, out=str(run)))
        (run / "config.json").write_text(json.dumps(record))
        runs.append(run)
    assert main([*map(str, runs), "--out", str(tmp_path / "soup")]) == 1
    assert "lr differ" in capsys.readouterr().err
    assert not (tmp_path / "soup").exists()
