"""A small fixed slice of the mutation fuzzer (benchmarks/fuzz.py) on every test run."""

from __future__ import annotations

from pathlib import Path

from benchmarks.fuzz import fuzz
from benchmarks.fuzz_mutations import mutants, seed_files

COUNT = 60


def test_the_same_seed_makes_the_same_mutants(dicom_dir: Path) -> None:
    seeds = seed_files(dicom_dir)
    assert len(seeds) > 50
    first = list(mutants(seeds, 20, seed=7))
    assert first == list(mutants(seeds, 20, seed=7))
    assert first != list(mutants(seeds, 20, seed=8))
    assert len({data for _, data in first}) == 20


def test_a_slice_of_mutants_breaks_no_promise(dicom_dir: Path, model_dir: Path) -> None:
    summary = fuzz(COUNT, seed=17, data=dicom_dir, model=model_dir, batch_size=COUNT)
    assert summary.files == COUNT + 1  # and the control
    assert summary.failures == []
    assert sum(summary.reasons.values()) > COUNT // 3  # the mutants really are hostile
    assert summary.analysed >= 1
