"""Mirror averaging: the mean logit of an image and its left-right mirror."""

from __future__ import annotations

import numpy as np
import torch

from fracture_desktop.core.inference.engine import frozen, grad_cam
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.core.inference.models import FractureNet


def test_the_score_is_the_mean_of_both_views_whichever_way_the_image_faces() -> None:
    torch.manual_seed(0)
    net = FractureNet().eval()
    model = MirrorAverage(net).eval()
    x = torch.rand(3, 1, 96, 96)
    with torch.inference_mode():
        plain, mirrored = net(x), net(x.flip(-1))
        assert not torch.allclose(plain, mirrored)  # the network alone is not symmetric
        torch.testing.assert_close(model(x), (plain + mirrored) / 2)
        torch.testing.assert_close(model(x.flip(-1)), model(x))


def test_the_heatmap_of_a_mirrored_image_is_the_mirrored_heatmap() -> None:
    torch.manual_seed(0)
    model = frozen(MirrorAverage(FractureNet()))
    x = torch.rand(1, 1, 128, 128)
    logit, cam = grad_cam(model, x)
    logit_mirrored, cam_mirrored = grad_cam(model, x.flip(-1))
    # One map for the one image, at the Grad-CAM layer's 1/16 of the input size.
    assert cam.shape == (8, 8) and cam.max() == 1.0
    assert not np.allclose(cam, cam[:, ::-1])
    np.testing.assert_allclose(cam_mirrored, cam[:, ::-1], atol=1e-5)
    torch.testing.assert_close(logit_mirrored, logit)
