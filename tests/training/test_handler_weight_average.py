"""The weight average handler: what it averages, what val scores, what a resume restores."""

from __future__ import annotations

import numpy as np
import torch
from toy_training import ToyNet, toy_inputs, toy_run

from fracture_desktop.training.handlers.weight_average import WeightAverage
from fracture_desktop.training.loop import val_auc
from fracture_desktop.training.scoring import predict_logits

VAL = toy_inputs(4, seed=1), np.array([1, 0, 1, 0])


def _average(model: ToyNet) -> WeightAverage:
    return WeightAverage(model, 0.5, toy_inputs(8), *VAL, channels=1)


def _set_weights(model: ToyNet, value: float) -> None:
    with torch.no_grad():
        model.classifier.weight.fill_(value)


def test_the_average_follows_the_steps_with_its_decay() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    handler = _average(model)
    run = toy_run(model, [handler])
    assert run.scored is handler.average.module and run.scored is not model
    _set_weights(model, 1.0)
    handler.after_step(run)  # the first step's weights are taken as they are
    _set_weights(model, 3.0)
    handler.after_step(run)  # then 0.5 x average + 0.5 x latest
    averaged = handler.average.module.classifier.weight
    torch.testing.assert_close(averaged, torch.full_like(averaged, 2.0))
    assert torch.equal(model.classifier.weight, torch.full_like(averaged, 3.0))


def test_its_batch_norm_statistics_are_measured_on_the_training_images() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    handler = _average(model)
    run = toy_run(model, [handler])
    norm = handler.average.module.features[1]
    assert torch.count_nonzero(norm.running_mean) == 0
    handler.end_of_training(run)
    assert torch.count_nonzero(norm.running_mean) == 4
    # The network being trained keeps its own statistics.
    assert torch.count_nonzero(model.features[1].running_mean) == 0


def test_it_logs_the_latest_weights_val_auc_beside_the_averages() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    handler = _average(model)
    run = toy_run(model, [handler])
    _set_weights(model, -5.0)
    expected = val_auc(VAL[1], predict_logits(model, VAL[0], 1))
    assert handler.log_fields(run) == {"val_auc_raw": expected}


def test_a_resumed_average_carries_on() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    handler = _average(model)
    run = toy_run(model, [handler])
    for value in (1.0, 3.0):
        _set_weights(model, value)
        handler.after_step(run)
    restored = _average(ToyNet())
    restored.load_state_dict(handler.state_dict())
    assert int(restored.average.n_averaged) == 2
    torch.testing.assert_close(
        restored.average.module.classifier.weight, handler.average.module.classifier.weight
    )
    assert WeightAverage.checkpoint_key == "ema"
