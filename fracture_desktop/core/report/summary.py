"""The machine-readable summary of a triage (``scan --summary-json``, docs/REPORTS.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from fracture_desktop.core.findings import Flag
from fracture_desktop.core.report.entries import ReportContext, ReportEntry, flag_counts


def scan_summary(entries: Sequence[ReportEntry], context: ReportContext) -> dict[str, object]:
    """Counts per flag, the model (weights and card), the thresholds and the shift test."""
    counts = flag_counts(entries)
    model = context.model
    summary: dict[str, object] = {
        "folder": context.source,
        "model": model.label,
        "model_card_sha256": model.card_sha256,
        "model_card": model.card_status,
        "domain_check": model.domain_check,
        "thresholds_source": model.thresholds_source,
        "thresholds": {"fracture": model.thresholds.fracture, "doubt": model.thresholds.doubt},
        "n_images": sum(e.finding.probability is not None for e in entries),
        "n_not_analysed": counts[Flag.NOT_ANALYSED],
        "n_outside_domain": counts[Flag.OUTSIDE_DOMAIN],
        "flags": {flag.value: count for flag, count in counts.items()},
        "shift_warning": False,
        "shift_statistic": None,
        "shift_message": "",
    }
    if context.shift is not None:
        summary.update(context.shift.as_dict())
    return summary


def summary_json(entries: Sequence[ReportEntry], context: ReportContext) -> bytes:
    """:func:`scan_summary` as the bytes of a JSON file."""
    return (json.dumps(scan_summary(entries, context), indent=2) + "\n").encode("utf-8")
