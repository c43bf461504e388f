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
        ("96932f940c81fafec986c98d62893b17e40f356482f5544455622319b2d44625", True),
    "efficientnet_lite0-v2":
        ("07b575d6a680433c0e440289ab69fa5e494b1fe01575df540d59eb961ba9f707", True),
    "efficientnet_lite0-v3":
        ("24678d30d33106ba4aef0cdae9471be1a8ad4554c792aaed26644f1f994c7132", True),
    "efficientnet_lite0-v4":
        ("1be7f51dee5b8ea972aa5c607817838c6d1b20714d82d48c224afa64bef4721a", True),
    "efficientnet_lite0-v5":
        ("ab9cd4a99f2b17ceb1b03757128c7bc2fdee2c05bc547beed53a3e4f352039af", True),
    "efficientnet_lite0-v6":
        ("442c5869e6fc2c0009fd4dd09bd35af6e2f9f21a90533a6c3442599547bca7d2", True),
    "efficientnet_lite0-v7":
        ("acc017cc8bb2fd678c0b1b0cc848ba510c281455135f983fd5e72135c9756ab4", True),
    "fracture_net-v1":
        ("40f1a6e1a7f44c6a990ca265ec329731ee9f8e60d37218bdd70d8fc745a45b5a", True),
    "fracture_net-v2":
        ("bffb090d1db80aaab8e18475bcd0e1b108443bf666b621444797c2afbe77dad3", True),
    "fracture_net-v3":
        ("5d17905848c1aa94c53cf094dbc26b806b59826e58aced7ec0b58498a293f6dc", True),
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
