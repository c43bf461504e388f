"""How flags and reader decisions look, shared by the browser and the findings panel."""

from __future__ import annotations

from PySide6.QtGui import QColor

from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.findings import Finding, Flag

#: The colour of results made by another model than the one in use.
OTHER_MODEL_COLOUR = QColor("#757575")
FLAG_COLOURS = {
    Flag.FRACTURE: QColor("#ff5252"),
    Flag.DOUBT: QColor("#ffb74d"),
    Flag.NO_FRACTURE: QColor("#81c784"),
    # Greyed, like "not analysed": the probability is shown but is not to be read.
    Flag.OUTSIDE_DOMAIN: QColor("#8d8aa6"),
    Flag.NOT_ANALYSED: QColor("#9e9e9e"),
}
#: The reader's call as the browser and the panel write it, beside the model's flag; the
#: confirm / reject of earlier versions is still shown as it was recorded.
DECISION_MARKS = {
    Decision.FRACTURE: "reader: fracture",
    Decision.NO_FRACTURE: "reader: no fracture",
    Decision.UNCERTAIN: "reader: uncertain",
    Decision.CONFIRMED: "\u2713 confirmed",
    Decision.REJECTED: "\u2717 rejected",
}
#: The decision as one sign, where a column has room for no more (the tooltip says it).
DECISION_SIGNS = {
    Decision.FRACTURE: "F",
    Decision.NO_FRACTURE: "N",
    Decision.UNCERTAIN: "?",
    Decision.CONFIRMED: "\u2713",
    Decision.REJECTED: "\u2717",
}


def flag_text(finding: Finding | None) -> str:
    """``"Fracture 82%"``, ``"Outside domain (68%)"``; empty before analysis."""
    if finding is None:
        return ""
    name = finding.flag.value.capitalize()
    if finding.probability is None:
        return name
    if finding.flag is Flag.OUTSIDE_DOMAIN:
        return f"{name} ({finding.probability:.0%})"
    return f"{name} {finding.probability:.0%}"


def other_model_note(model_label: str) -> str:
    """Tooltip of a result kept from another model: shown, but not this model's answer."""
    return f"Made by another model ({model_label}); analyse again for this model's result"


def shown_flag_text(finding: Finding | None, made_by: str = "") -> str:
    """The flag as a row shows it: in brackets when another model (``made_by``) made it."""
    text = flag_text(finding)
    return f"({text})" if made_by and text else text


def flag_tooltip(finding: Finding) -> str:
    """The flag with why: the error, or for an image outside the domain its score."""
    if finding.error:
        return finding.error
    if finding.flag is Flag.OUTSIDE_DOMAIN and finding.domain_score is not None:
        return (
            f"Outside the model's domain (score {finding.domain_score:.2f}, limit 1): this "
            "image is unlike the images the model was validated on, so its probability "
            f"({finding.probability:.0%}) means nothing. Read it without the model."
        )
    return flag_text(finding)


def suspicion_key(finding: Finding | None) -> float:
    """Ascending order reads the most suspicious first: by flag, then by probability."""
    if finding is None:
        return float(Flag.NOT_ANALYSED.suspicion_rank) + 1.0
    p = finding.probability if finding.probability is not None else 0.0
    return finding.flag.suspicion_rank + (1.0 - p) * 0.999


def decision_text(decision: Decision | None) -> str:
    return "" if decision is None else DECISION_MARKS[decision]


def decision_sign(decision: Decision | None) -> str:
    return "" if decision is None else DECISION_SIGNS[decision]
