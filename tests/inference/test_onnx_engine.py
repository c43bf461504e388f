"""The ONNX Runtime engine gives what the torch engine gives, from the same model input.

Agreement is held to: probabilities within 1e-4, identical flags, boxes within a pixel,
domain scores within 1e-3, and Grad-CAM maps (computed inside the graph, with no backward
pass) within 1e-2 of torch's autograd ones on the image's [0, 1] scale: the map's ReLU
masks switch where a pre-activation is within rounding of 0, which moves a map by about
1e-3 (on FracAtlas test images), far below what an overlay shows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fracture_desktop.core.errors import ModelIntegrityError, ModelUnavailableError
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.model_input import model_input
from fracture_desktop.core.inference.card import (
    ONNX_FILE,
    load_card,
    onnx_graph,
    with_onnx_graph,
    write_card,
)
from fracture_desktop.core.inference.engine import InferenceEngine
from fracture_desktop.core.inference.engines import load_engine
from fracture_desktop.core.inference.onnx_engine import OnnxEngine
from fracture_desktop.core.inference.prediction import Prediction
from fracture_desktop.core.paths import models_root, resources_root
from fracture_desktop.training.dataset import source_samples
from fracture_desktop.training.export import untrained_model_dir
from fracture_desktop.training.onnx_export import export_onnx

SHIPPED = sorted(p for p in models_root().iterdir() if (p / "model_card.json").is_file())
IMAGE_SUFFIXES = {".dcm", ".jpg", ".png"}


def assert_agree(theirs: Prediction, ours: Prediction) -> None:
    assert theirs.probability == pytest.approx(ours.probability, abs=1e-4)
    assert theirs.flag is ours.flag
    assert ours.domain_score is not None and theirs.domain_score is not None
    assert theirs.domain_score == pytest.approx(ours.domain_score, abs=1e-3)
    assert len(theirs.boxes) == len(ours.boxes)
    for a, b in zip(theirs.boxes, ours.boxes, strict=True):
        corners = np.array([a.x0, a.y0, a.x1, a.y1]) - np.array([b.x0, b.y0, b.x1, b.y1])
        assert np.abs(corners).max() <= 1.0
        assert a.score == pytest.approx(b.score, abs=1e-3)
    if ours.heatmap is not None:
        assert theirs.heatmap is not None
        assert theirs.heatmap.shape == ours.heatmap.shape
        assert np.abs(theirs.heatmap - ours.heatmap).max() < 1e-2


@pytest.fixture(scope="module")
def engines(shipped_model_dir: Path) -> tuple[OnnxEngine, InferenceEngine]:
    return OnnxEngine.load(shipped_model_dir, threads=1), InferenceEngine.load(
        shipped_model_dir, "cpu", threads=1
    )


def test_the_shipped_model_scores_the_bundled_samples_alike(
    engines: tuple[OnnxEngine, InferenceEngine],
) -> None:
    onnx_engine, torch_engine = engines
    samples = sorted(
        p for p in resources_root().joinpath("samples").rglob("*") if p.suffix in IMAGE_SUFFIXES
    )
    assert len(samples) == 7
    flags = set()
    for path in samples:
        image = load_image(path)
        theirs = onnx_engine.predict(image, heatmap=True)
        ours = torch_engine.predict(image, heatmap=True)
        assert_agree(theirs, ours)
        flags.add(ours.flag)
    # The samples cover more than one answer, so identical flags mean something.
    assert len(flags) >= 2


def test_the_shipped_model_scores_fracatlas_fractures_alike(
    engines: tuple[OnnxEngine, InferenceEngine], fracatlas_dir: Path
) -> None:
    onnx_engine, torch_engine = engines
    fractured = [s for s in source_samples(fracatlas_dir) if s.split == "test" and s.label]
    boxes = 0
    for sample in fractured[:4]:
        image = load_image(sample.path)
        theirs = onnx_engine.predict(image, heatmap="flagged")
        ours = torch_engine.predict(image, heatmap="flagged")
        assert_agree(theirs, ours)
        boxes += len(ours.boxes)
    assert boxes > 0  # the boxes were compared, not two empty lists


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_graph_gives_torch_s_logit_layers_and_grad_cam(folder: Path) -> None:
    onnx_engine = OnnxEngine.load(folder, threads=1)
    torch_engine = InferenceEngine.load(folder, "cpu", threads=1)
    path = resources_root() / "samples" / "fracatlas" / "IMG0000002.jpg"
    values = model_input(load_image(path), onnx_engine.card.input_spec)
    theirs = onnx_engine._forward(values, heatmap=True)
    ours = torch_engine._forward(values, heatmap=True)
    assert theirs.logit == pytest.approx(ours.logit, abs=1e-4)
    for a, b in zip(theirs.features, ours.features, strict=True):
        assert np.abs(a - b).max() < 1e-3
    assert theirs.cam is not None and ours.cam is not None
    cams = [c() for c in (theirs.cam, ours.cam)]
    assert cams[0].shape == cams[1].shape
    assert cams[1].max() > 0  # a map with something on it
    assert np.abs(cams[0] / cams[0].max() - cams[1] / cams[1].max()).max() < 1e-3


def test_a_graph_agrees_with_torch_for_an_untrained_fracture_net(tmp_path: Path) -> None:
    # Random weights: FractureNet's Grad-CAM tail, away from any shipped folder's weights.
    folder = tmp_path / "fracture_net"
    untrained_model_dir(folder, "fracture_net")
    export_onnx(folder)  # checks the logit and the map against torch itself
    onnx_engine = OnnxEngine.load(folder, threads=1)
    torch_engine = InferenceEngine.load(folder, "cpu", threads=1)
    values = np.random.default_rng(1).random((1, 256, 256), dtype=np.float32)
    theirs = onnx_engine._forward(values, heatmap=True)
    ours = torch_engine._forward(values, heatmap=True)
    assert theirs.logit == pytest.approx(ours.logit, abs=1e-4)
    assert theirs.cam is not None and ours.cam is not None
    cams = [c() for c in (theirs.cam, ours.cam)]
    assert cams[1].max() > 0
    assert np.abs(cams[0] / cams[0].max() - cams[1] / cams[1].max()).max() < 1e-3


def test_a_pass_without_a_heatmap_leaves_the_map_s_branch_out(
    engines: tuple[OnnxEngine, InferenceEngine],
) -> None:
    onnx_engine = engines[0]
    spec = onnx_engine.card.input_spec
    values = np.random.default_rng(0).random((1, spec.size, spec.size), dtype=np.float32)
    assert onnx_engine._run(values, cam=False)["cam"].shape == (1, 1, 1)
    assert onnx_engine._run(values, cam=True)["cam"].shape == (1, spec.size // 16, spec.size // 16)


def graph_folder(tmp_path: Path, source: Path) -> Path:
    """A copy of a model folder with what the ONNX engine reads (no weights)."""
    folder = tmp_path / source.name
    folder.mkdir()
    card = load_card(source)
    for name in ("model_card.json", ONNX_FILE, card.domain_file):
        shutil.copy(source / name, folder / name)
    return folder


def test_a_graph_whose_sha256_differs_from_the_card_is_refused(
    tmp_path: Path, shipped_model_dir: Path
) -> None:
    folder = graph_folder(tmp_path, shipped_model_dir)
    assert isinstance(load_engine(folder, "cpu"), OnnxEngine)  # no weights needed
    data = bytearray((folder / ONNX_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / ONNX_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="graph does not match"):
        load_engine(folder, "cpu")


def test_a_damaged_graph_recorded_in_the_card_is_a_typed_error(
    tmp_path: Path, shipped_model_dir: Path
) -> None:
    folder = graph_folder(tmp_path, shipped_model_dir)
    (folder / ONNX_FILE).write_bytes(b"not a graph")
    card = load_card(folder)
    write_card(with_onnx_graph(card, ONNX_FILE, _sha256(b"not a graph")))
    with pytest.raises(ModelUnavailableError, match="cannot be opened"):
        OnnxEngine.load(folder)
    (folder / ONNX_FILE).unlink()
    with pytest.raises(ModelUnavailableError, match="cannot be read"):
        OnnxEngine.load(folder)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_the_card_refuses_a_malformed_onnx_section(tmp_path: Path, shipped_model_dir: Path) -> None:
    folder = graph_folder(tmp_path, shipped_model_dir)
    card = load_card(folder)
    assert onnx_graph(card) == (folder / ONNX_FILE, card.raw["onnx"]["sha256"])
    with pytest.raises(ModelUnavailableError, match="malformed") as short:
        with_onnx_graph(card, ONNX_FILE, "abc")
    assert "64 hex digits" in short.value.details
    with pytest.raises(ModelUnavailableError, match="malformed") as outside:
        with_onnx_graph(card, "../model.onnx", card.raw["onnx"]["sha256"])
    assert "file name in the model folder" in outside.value.details


def test_cpu_reads_with_onnx_runtime_and_a_folder_without_a_graph_with_torch(
    shipped_model_dir: Path, model_dir: Path
) -> None:
    for device in ("auto", "cpu"):
        engine = load_engine(shipped_model_dir, device)
        assert isinstance(engine, OnnxEngine)
        assert engine.runs_on.startswith("cpu, ONNX Runtime ")
    assert onnx_graph(load_card(model_dir)) is None  # the untrained test model has none
    engine = load_engine(model_dir, "cpu")
    assert isinstance(engine, InferenceEngine)
    assert engine.runs_on.startswith("cpu, torch ")
    with pytest.raises(ValueError, match="threads"):
        load_engine(shipped_model_dir, "cpu", threads=0)
