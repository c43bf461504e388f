"""The model cards shipped with the app, pinned: a shipped model id with another card is
reported as modified, and one released with a domain check must keep it.

A card's sha256 is that of its content in canonical form (:func:`card_digest`: keys sorted,
no whitespace, UTF-8), so that line endings or indentation changed by a checkout do not
change it. After releasing a model folder (or changing a shipped card), pin it with::

    python -m fracture_desktop.core.inference.shipped models/<model-id> [...]

which rewrites the lines of :data:`SHIPPED_CARDS` below for those folders.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Shipped model id -> (sha256 of its card, released with a domain check).
SHIPPED_CARDS: dict[str, tuple[str, bool]] = {
    # pinned: begin (rewritten by ``python -m fracture_desktop.core.inference.shipped``)
    "efficientnet_lite0-v1":
        ("020abbe8a6c63788af886189a5c35b4664ed1cd4cdebe41cc352be3ee50a758e", True),
    "efficientnet_lite0-v2":
        ("7cf409ada22fe4441489105abf9ea0d794d34bb36c43ffba9a8cf60d9b7f41a3", True),
    "efficientnet_lite0-v3":
        ("6b743bedbcd0952d803bea961ae9ebee4288997fe87467b06ae6e2e393e30d80", True),
    "efficientnet_lite0-v4":
        ("b85fd19ee05200b08dbfe058e11c5d3682fa8158cf31136599ad8cea360b0442", True),
    "fracture_net-v1":
        ("7787f65f7e7733871bd09d174dd9956357ce1b119160d0110d1f7f687a2d27ae", True),
    "fracture_net-v2":
        ("0c7534188d6935889ef4bf812ca646ac312ebb3bb484010e210ff0ca7bc3f21d", True),
    "fracture_net-v3":
        ("f1b613583bad83920afbff2b52e579860013c8bc3a3b0e85cb8a40f5002092db", True),
    # pinned: end
}  # fmt: skip

#: What reports say about a card.
SHIPPED = "shipped"
MODIFIED = "modified"
NOT_SHIPPED = "not shipped"
_PINNED = re.compile(r"(    # pinned: begin[^\n]*\n)(.*?)(    # pinned: end)", re.DOTALL)


def card_digest(document: dict[str, Any]) -> str:
    """The sha256 of a card document in canonical form (keys sorted, no whitespace)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def card_status(model_id: str, digest: str) -> str:
    """:data:`SHIPPED`, :data:`MODIFIED` (a shipped id, another card) or :data:`NOT_SHIPPED`."""
    pinned = SHIPPED_CARDS.get(model_id)
    if pinned is None:
        return NOT_SHIPPED
    return SHIPPED if pinned[0] == digest else MODIFIED


def released_with_domain_check(model_id: str) -> bool:
    """Whether the model shipped under ``model_id`` came with a domain check."""
    pinned = SHIPPED_CARDS.get(model_id)
    return pinned is not None and pinned[1]


def pin(model_dirs: Sequence[Path], source: Path = Path(__file__)) -> dict[str, tuple[str, bool]]:
    """Pin the cards of ``model_dirs`` in ``source`` (this module); returns the new table."""
    table = dict(SHIPPED_CARDS)
    for folder in model_dirs:
        raw = json.loads((Path(folder) / "model_card.json").read_text(encoding="utf-8"))
        table[str(raw["id"])] = (card_digest(raw), "domain" in raw)
    lines = "".join(
        f'    "{model_id}":\n        ("{digest}", {domain}),\n'
        for model_id, (digest, domain) in sorted(table.items())
    )
    text = source.read_text(encoding="utf-8")
    source.write_text(_PINNED.sub(lambda m: m[1] + lines + m[3], text, count=1), "utf-8")
    return table


if __name__ == "__main__":  # pragma: no cover - a release step, run by hand
    for model_id, (digest, domain) in pin([Path(a) for a in sys.argv[1:]]).items():
        print(f"{model_id}: {digest}{'' if domain else ' (no domain check)'}")
