"""The PDF of a site validation (``fracture-desktop validate --pdf``): one page a site can file
with its decision to adopt, or not, the thresholds it found."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.report.pdf_pages import INK, MARGIN, MUTED, SHADE, styles

TITLE = "Site validation of the fracture model"


def _interval(report: dict[str, Any], key: str) -> str:
    if report[key] is None:
        return "not computable (one class only)"
    low, high = report[f"{key}_ci"]
    return f"{report[key]:.3f} (95% CI {low:.3f}-{high:.3f})"


def _points_table(points: dict[str, dict[str, float]]) -> Table:
    rows: list[list[object]] = [
        ["Threshold", "Value", "Sensitivity", "Specificity", "TP / FN / TN / FP"]
    ]
    for name, p in points.items():
        rows.append(
            [
                name,
                f"{p['threshold']:.3f}",
                f"{p['recall_sensitivity']:.3f}",
                f"{p['specificity']:.3f}",
                f"{p['tp']} / {p['fn']} / {p['tn']} / {p['fp']}",
            ]
        )
    table = Table(rows, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
                ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, INK),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), ["white", SHADE]),
            ]
        )
    )
    return table


def write_validation_pdf(report: dict[str, Any], path: Path | str, overwrite: bool = False) -> Path:
    """Write the validation ``report`` (as ``validate --json`` writes it) to ``path``."""
    st = styles()
    model = report["model"]
    facts = [
        ("Created", report["created"]),
        ("Folder", report["folder"]),
        ("Model", f"{model['id']} {model['version']} · weights sha256 {model['sha256'][:12]}…"),
        (
            "Images",
            f"{report['n_images']} scored: {report['n_positive']} fractured, "
            f"{report['n_negative']} other; {report['n_not_analysed']} not analysed; "
            f"{report['n_outside_domain']} outside the model's domain "
            f"({report['outside_domain_share']:.0%})",
        ),
        ("ROC-AUC", _interval(report, "roc_auc")),
        ("PR-AUC", _interval(report, "pr_auc")),
    ]
    story: list[object] = [
        Paragraph(TITLE, st["title"]),
        Spacer(0, 4),
        Table(
            [[Paragraph(k, st["key"]), Paragraph(escape(str(v)), st["body"])] for k, v in facts],
            colWidths=[30 * mm, None],
            hAlign="LEFT",
        ),
        Paragraph("At the model card's thresholds", st["h2"]),
        _points_table(report["card_thresholds"]),
        Paragraph("Site thresholds", st["h2"]),
    ]
    if report["site_thresholds"] is None:
        story.append(Paragraph(escape(report["site_thresholds_reason"]), st["body"]))
    else:
        rule = report["site_thresholds_rule"]
        story += [
            Paragraph(
                escape(
                    f"Chosen on these images: fracture: {rule['fracture']}; doubt: {rule['doubt']}."
                ),
                st["small"],
            ),
            Spacer(0, 4),
            _points_table(report["site_operating_points"]),
            Spacer(0, 6),
            Paragraph(
                "Thresholds chosen and measured on the same images are optimistic; adopt them "
                "only with enough cases, and check them again on new ones.",
                st["small"],
            ),
        ]
    shift = report.get("shift")
    if shift and shift["shift_warning"]:
        story += [Spacer(0, 6), Paragraph(escape(shift["shift_message"]), st["note"])]
    path = Path(path)
    with atomic_write(path, overwrite) as f:
        doc = SimpleDocTemplate(
            f,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN,
            title=TITLE,
        )
        doc.build(story)
    return path
