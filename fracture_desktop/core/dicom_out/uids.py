"""New UIDs for our objects: ``2.25.`` followed by a random UUID as an integer.

PS3.5 B.2 defines this root: a UUID needs no registered organisation root and never
collides with another system's UIDs. Every object, series and tracking identifier we write
gets a fresh one; the study's UID is the source's, so the objects file into its study.
"""

from __future__ import annotations

from pydicom.uid import generate_uid

#: The documented root (PS3.5 B.2); see docs/REPORTS.md, "Conformance".
UID_ROOT = "2.25."


def new_uid() -> str:
    """A fresh ``2.25.`` UID (at most 64 characters, as PS3.5 9.1 requires)."""
    return str(generate_uid(prefix=None))
