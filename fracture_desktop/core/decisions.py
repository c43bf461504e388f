"""Reader decisions (confirm / reject a flag), kept in the user's data directory.

Decisions are keyed by image identity (SOP Instance UID, or a content hash for plain
pictures) so they survive a folder being moved, and are never written into a study folder.
"""

from __future__ import annotations

import enum
import json
import threading
from pathlib import Path

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.paths import user_data_dir


class Decision(enum.StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


def default_decisions_path() -> Path:
    return user_data_dir() / "decisions.json"


class DecisionStore:
    """A small JSON file of ``identity -> decision``; every change is written atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_decisions_path()
        self._lock = threading.Lock()
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            raw = {}
        known = set(Decision._value2member_map_)
        self._decisions = {k: Decision(v) for k, v in raw.items() if v in known}

    def get(self, identity: str) -> Decision | None:
        return self._decisions.get(identity)

    def set(self, identity: str, decision: Decision | None) -> None:
        """Record ``decision`` for ``identity``; ``None`` clears it."""
        with self._lock:
            if decision is None:
                self._decisions.pop(identity, None)
            else:
                self._decisions[identity] = Decision(decision)
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({k: v.value for k, v in self._decisions.items()}, indent=1)
        with atomic_write(self.path, overwrite=True) as f:
            f.write(text.encode("utf-8"))
