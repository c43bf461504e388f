"""The inference engine: integrity checks, probabilities, flags and heatmaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fracture_desktop.core.errors import ModelIntegrityError, ModelUnavailableError
from fracture_desktop.core.findings import Flag, Thresholds
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.model_input import InputSpec, model_input
from fracture_desktop.core.inference.engine import InferenceEngine, cam_to_image, model_threads
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.core.inference.models import ARCHITECTURES


def grey_image(rows: int, cols: int) -> LoadedImage:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 255, (rows, cols)).astype(np.float32)
    return LoadedImage(path=Path("synthetic.png"), frame=0, stored=values, values=values)


def test_prediction_has_probability_flag_and_image_shaped_heatmap(model_dir: Path) -> None:
    engine = InferenceEngine.load(model_dir, device="cpu")
    image = grey_image(300, 200)
    plain = engine.predict(image)
    with_map = engine.predict(image, heatmap=True)
    assert 0.0 <= plain.probability <= 1.0
    assert plain.heatmap is None
    assert with_map.probability == pytest.approx(plain.probability, abs=1e-6)
    assert with_map.heatmap is not None
    assert with_map.heatmap.shape == (300, 200)
    assert with_map.heatmap.min() >= 0.0 and with_map.heatmap.max() <= 1.0
    expected = (
        Flag.FRACTURE
        if plain.probability >= 0.6
        else Flag.DOUBT
        if plain.probability >= 0.4
        else Flag.NO_FRACTURE
    )
    assert plain.flag is expected


def test_warm_up_leaves_predictions_and_heatmaps_unchanged(model_dir: Path) -> None:
    image = grey_image(300, 200)
    cold = InferenceEngine.load(model_dir, device="cpu")
    expected = cold.predict(image, heatmap=True)
    warm = InferenceEngine.load(model_dir, device="cpu")
    warm.warm_up()
    after = warm.predict(image, heatmap=True)
    assert after.probability == expected.probability
    assert after.heatmap is not None and expected.heatmap is not None
    np.testing.assert_array_equal(after.heatmap, expected.heatmap)
    assert not any(p.requires_grad for p in warm.model.parameters())
    assert not warm.model.training


def test_flagged_only_heatmaps_skip_the_unflagged(model_dir: Path) -> None:
    engine = InferenceEngine.load(model_dir, device="cpu")
    image = grey_image(300, 200)
    full = engine.predict(image, heatmap=True)
    for thresholds, flagged in ((Thresholds(0.0, 0.0), True), (Thresholds(1.0, 1.0), False)):
        engine.use_thresholds(thresholds, "test thresholds")
        only = engine.predict(image, heatmap="flagged")
        assert only.flag.is_flagged is flagged
        assert only.probability == pytest.approx(full.probability, abs=1e-6)
        if flagged:
            np.testing.assert_allclose(only.heatmap, full.heatmap, atol=1e-6)
        else:
            assert only.heatmap is None


def test_tampered_weights_are_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tampered"
    copy.mkdir()
    for name in ("model_card.json", "weights.pt"):
        (copy / name).write_bytes((model_dir / name).read_bytes())
    with open(copy / "weights.pt", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelIntegrityError, match="do not match"):
        InferenceEngine.load(copy)


def test_missing_weights_or_card_explain_why(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="no model card"):
        InferenceEngine.load(tmp_path)
    (tmp_path / "model_card.json").write_text((model_dir / "model_card.json").read_text())
    with pytest.raises(ModelUnavailableError, match="weights missing"):
        InferenceEngine.load(tmp_path)
    card = json.loads((model_dir / "model_card.json").read_text())
    del card["thresholds"]
    (tmp_path / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelUnavailableError, match="malformed"):
        InferenceEngine.load(tmp_path)


def test_heatmap_maps_back_through_the_letterbox() -> None:
    # A wide image letterboxed into 8x8 fills rows 2..5; a hot spot in the model's
    # top-left valid corner must land in the image's top-left corner.
    cam = np.zeros((8, 8), dtype=np.float32)
    cam[2, 0] = 1.0
    heat = cam_to_image(cam, (40, 80), InputSpec(size=8, letterbox=True))
    assert heat.shape == (40, 80)
    row, col = np.unravel_index(np.argmax(heat), heat.shape)
    assert row < 10 and col < 10


def test_threads_are_set_process_wide(model_dir: Path) -> None:
    before = torch.get_num_threads()
    try:
        InferenceEngine.load(model_dir, device="cpu", threads=1)
        assert torch.get_num_threads() == 1
        InferenceEngine.load(model_dir, device="cpu")  # None leaves the setting alone
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="at least 1"):
            InferenceEngine.load(model_dir, device="cpu", threads=0)
    finally:
        torch.set_num_threads(before)


def test_thread_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert model_threads() == 1  # the viewer: one core decodes and draws, one scores
    assert model_threads(batch=True) == 2  # scan: decoding is read ahead, both cores score
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert model_threads() == 4
    assert model_threads(batch=True) == 4
    assert model_threads(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert model_threads() is None  # the user's own setting wins
    assert model_threads(1) == 1


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_app_architecture_loads_and_scores_as_saved(arch: str, tmp_path: Path) -> None:
    from fracture_desktop.training.export import untrained_model_dir

    card = untrained_model_dir(tmp_path / arch, arch)
    engine = InferenceEngine.load(card.directory, device="cpu")
    image = grey_image(300, 200)
    with_map = engine.predict(image, heatmap=True)
    assert with_map.heatmap is not None and with_map.heatmap.shape == (300, 200)
    # The engine folds batch norms; the probability is still that of the saved weights.
    saved = ARCHITECTURES[arch]().eval()
    saved.load_state_dict(torch.load(card.weights_path, weights_only=True))
    x = torch.from_numpy(model_input(image, card.input_spec))[None]
    with torch.inference_mode():
        expected = float(torch.sigmoid(saved(x))[0])
    assert engine.predict(image).probability == pytest.approx(expected, abs=1e-5)
    assert with_map.probability == pytest.approx(expected, abs=1e-5)


def test_a_card_that_says_mirror_average_scores_both_views(tmp_path: Path) -> None:
    from fracture_desktop.training.export import untrained_model_dir

    card = untrained_model_dir(tmp_path / "mirror", mirror_average=True)
    assert card.mirror_average and "left-right mirror" in card.raw["output"]
    assert "left-right mirror" in (card.directory / "README.md").read_text()
    engine = InferenceEngine.load(card.directory, device="cpu")
    # 300 x 150 letterboxes to 256 x 128 with equal padding on each side, so the mirrored
    # image's model input is exactly the mirrored model input.
    image = grey_image(300, 150)
    mirrored = LoadedImage(
        path=image.path, frame=0, stored=image.stored[:, ::-1], values=image.values[:, ::-1]
    )
    saved = ARCHITECTURES["fracture_net"]().eval()
    saved.load_state_dict(torch.load(card.weights_path, weights_only=True))
    x = torch.from_numpy(model_input(image, card.input_spec))[None]
    with torch.inference_mode():
        expected = float(torch.sigmoid((saved(x) + saved(x.flip(-1))) / 2)[0])
    assert engine.predict(image).probability == pytest.approx(expected, abs=1e-5)
    assert engine.predict(mirrored).probability == pytest.approx(expected, abs=1e-5)
    heat = engine.predict(image, heatmap=True).heatmap
    heat_mirrored = engine.predict(mirrored, heatmap=True).heatmap
    assert heat is not None and heat_mirrored is not None
    np.testing.assert_allclose(heat_mirrored, heat[:, ::-1], atol=1e-4)


def test_cards_without_mirror_average_score_the_image_alone(model_dir: Path) -> None:
    engine = InferenceEngine.load(model_dir, device="cpu")
    assert not engine.card.mirror_average
    assert not isinstance(engine.model, MirrorAverage)
    assert engine.card.raw["output"].startswith("logit;")
