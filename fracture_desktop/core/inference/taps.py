"""Read a network's intermediate features during its ordinary forward pass, for the domain
check (:mod:`fracture_desktop.core.inference.domain`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from fracture_desktop.core.inference.domain import LAYERS
from fracture_desktop.core.inference.mirror import MirrorAverage


def _bare(model: nn.Module) -> nn.Module:
    return model.net if isinstance(model, MirrorAverage) else model


#: The layer each tap reads, by the property that names it on every network here: the
#: classifier (its input is the pooled embedding), the Grad-CAM layer, and the early layer at
#: about 1/4 of the input size.
_LAYERS = {"embedding": "classifier", "cam_layer": "cam_layer", "early": "early_layer"}


def _layer(net: nn.Module, tap: str) -> nn.Module:
    layer = getattr(net, _LAYERS[tap], None)
    if not isinstance(layer, nn.Module):
        raise AttributeError(f"{type(net).__name__} names no {_LAYERS[tap]} for the domain check")
    return layer


def _pooled(x: torch.Tensor) -> torch.Tensor:
    """(n, c, h, w) -> channel means (n, c); (n, d) as it is."""
    return x.detach().float().flatten(2).mean(dim=2) if x.dim() > 2 else x.detach().float()


@contextmanager
def tapped(model: nn.Module, layers: Sequence[str] = LAYERS) -> Iterator[list[list[torch.Tensor]]]:
    """Record the features of ``layers`` on every forward pass of ``model`` in the block.

    Yields one list per layer that collects (n, d) tensors batch after batch; read them with
    :func:`features_of`. ``embedding`` is the input of the network's ``classifier``,
    ``cam_layer`` and ``early`` the channel means of its Grad-CAM layer and of
    its early layer. The hooks only read: the forward pass and its result do not change.
    """
    net = _bare(model)
    captured: list[list[torch.Tensor]] = [[] for _ in layers]
    handles = []
    for store, name in zip(captured, layers, strict=True):
        module = _layer(net, name)
        if name == "embedding":
            hook = module.register_forward_pre_hook(
                lambda _m, args, s=store: s.append(_pooled(args[0]))
            )
        else:
            hook = module.register_forward_hook(lambda _m, _a, out, s=store: s.append(_pooled(out)))
        handles.append(hook)
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def features_of(model: nn.Module, captured: list[list[torch.Tensor]]) -> list[np.ndarray]:
    """Per-layer (n, d) arrays from :func:`tapped`; a mirror-averaged model's two views of
    each image are averaged, as its logits are."""
    if isinstance(model, MirrorAverage):
        captured = [[(b[: len(b) // 2] + b[len(b) // 2 :]) / 2 for b in c] for c in captured]
    return [torch.cat(layer).cpu().numpy() for layer in captured]
