"""Model contract: each architecture turns its declared input into one logit per image."""

from __future__ import annotations

import pytest
import torch

from fracture_desktop.training.architectures import architecture, names, run_architecture


@pytest.mark.parametrize("name", names())
def test_declared_input_gives_one_finite_logit_per_image(name: str) -> None:
    arch = architecture(name)
    spec = arch.input_spec
    model = arch.build().eval()
    batch = torch.rand(2, spec.channels, spec.size, spec.size)
    with torch.inference_mode():
        logits = model(batch)
    assert logits.shape == (2,)
    assert torch.isfinite(logits).all()
    probabilities = torch.sigmoid(logits)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_paper_cnn_matches_the_published_layout() -> None:
    arch = architecture("paper_cnn")
    assert (arch.input_spec.size, arch.input_spec.channels) == (128, 3)
    model = arch.build()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128]
    assert all(c.padding == (0, 0) and c.kernel_size == (3, 3) for c in convs)
    norms = [
        m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d)
    ]
    assert all(n.eps == 1e-3 for n in norms)
    drops = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops == [0.2, 0.3, 0.4, 0.5]


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown architecture"):
        architecture("alexnet")


def test_a_run_s_config_gives_its_input() -> None:
    # A run saved before the options existed keeps the architecture's own input.
    assert run_architecture({"arch": "efficientnet_lite0"}).input_spec.size == 256
    spec = run_architecture({"arch": "efficientnet_lite0", "input_size": 320}).input_spec
    assert (spec.size, spec.letterbox) == (320, True)
    # A run on an input step after the window (an experiment's) is not read as a window's.
    assert run_architecture({"arch": "efficientnet_lite0", "intensity": "window"}).input_spec
    with pytest.raises(ValueError, match="'equalised' input step"):
        run_architecture({"arch": "efficientnet_lite0", "intensity": "equalised"})
