"""Batch norms folded into convolutions leave every shipped architecture's logits unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fracture_desktop.core.inference.folding import fold_batch_norms
from fracture_desktop.core.inference.models import ARCHITECTURES


def with_trained_statistics(model: nn.Module) -> nn.Module:
    """Give every batch norm statistics and affine terms far from their identity defaults."""
    generator = torch.Generator().manual_seed(0)
    for norm in model.modules():
        if isinstance(norm, nn.BatchNorm2d | nn.BatchNorm1d):
            n = norm.num_features
            norm.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
            norm.running_var.copy_(torch.rand(n, generator=generator) * 2 + 0.1)
            norm.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            norm.bias.data.copy_(torch.randn(n, generator=generator) * 0.2)
    return model.eval()


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_folding_keeps_the_logits(name: str) -> None:
    torch.manual_seed(0)
    cls = ARCHITECTURES[name]
    model = with_trained_statistics(cls())
    spec = cls.input_spec
    x = torch.rand(2, spec.channels, spec.size, spec.size)
    with torch.inference_mode():
        before = model(x)
        folded = fold_batch_norms(model)
        after = folded(x)
    assert folded is model
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_only_batch_norms_right_after_a_convolution_are_folded() -> None:
    def norms(model: nn.Module) -> int:
        return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())

    # FractureNet and Lite0 apply every batch norm straight to a convolution's output;
    # PaperCNN puts a ReLU between them, so folding would change its function.
    for name, remaining in (("fracture_net", 0), ("efficientnet_lite0", 0), ("paper_cnn", 3)):
        model = ARCHITECTURES[name]().eval()
        assert norms(model) > 0
        assert norms(fold_batch_norms(model)) == remaining, name


def test_folding_needs_eval_mode() -> None:
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(ARCHITECTURES["fracture_net"]())
