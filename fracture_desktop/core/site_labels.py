"""Which images of a site's folder are fractured: the labels a validation checks the model
against (``fracture-desktop validate`` and the viewer's Analysis > Validate this folder).

A folder labels its images by sub-folders named ``Fractured/`` and ``Non_fractured/`` (any
case, spaces and hyphens read as underscores), or a CSV maps paths to 0 / 1.
"""

from __future__ import annotations

import csv
from pathlib import Path

#: Folder names (lower case, spaces and hyphens read as underscores) that label images.
POSITIVE_FOLDERS = frozenset({"fractured", "fracture"})
NEGATIVE_FOLDERS = frozenset(
    {"non_fractured", "not_fractured", "nonfractured", "unfractured", "no_fracture", "normal"}
)


def folder_label(name: str) -> int | None:
    """1 for a fractured folder name, 0 for a non-fractured one, else None (any case)."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key in POSITIVE_FOLDERS:
        return 1
    if key in NEGATIVE_FOLDERS:
        return 0
    return None


def labels_from_folders(folder: Path) -> dict[Path, int]:
    """Labels of the files under ``folder``'s ``Fractured/`` and ``Non_fractured/`` folders
    (or ``fractured`` / ``not fractured`` / ``not_fractured``, any case)."""
    labels: dict[Path, int] = {}
    for child in sorted(folder.iterdir()):
        label = folder_label(child.name) if child.is_dir() else None
        if label is None:
            continue
        for path in child.rglob("*"):
            if path.is_file():
                labels[path.resolve()] = label
    return labels


def labels_from_csv(csv_path: Path, folder: Path) -> dict[Path, int]:
    """Labels from a CSV with columns ``path`` and ``label`` (0 or 1); relative paths are
    read from ``folder``.

    Raises
    ------
    ValueError
        A missing column or a label other than 0 / 1.
    """
    labels: dict[Path, int] = {}
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{csv_path} needs the columns 'path' and 'label'")
        for line, row in enumerate(reader, start=2):
            if row["label"].strip() not in ("0", "1"):
                raise ValueError(f"{csv_path} line {line}: label must be 0 or 1")
            path = Path(row["path"].strip())
            labels[(path if path.is_absolute() else folder / path).resolve()] = int(row["label"])
    return labels


def has_label_folders(folder: Path) -> bool:
    """Whether ``folder`` has both a fractured and a non-fractured sub-folder (its direct
    children only: cheap enough to ask each time a folder is opened)."""
    try:
        found = {folder_label(c.name) for c in Path(folder).iterdir() if c.is_dir()}
    except OSError:
        return False
    return {0, 1} <= found
