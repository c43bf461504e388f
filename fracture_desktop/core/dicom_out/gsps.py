"""Grayscale Softcopy Presentation States: the boxes and scores drawn over the source image.

For PACS viewers that render no SR (PS3.3 A.33.1). One GSPS per flagged image: a graphic
layer holding each box as a closed POLYLINE in PIXEL units (PS3.3 C.10.5) with its score
as text, and a line of text naming the flag, the probability and the model. The source's
pixels are not copied: the viewer applies the state to the image it already has.
"""

from __future__ import annotations

import highdicom as hd
from highdicom.pr import (
    AnnotationUnitsValues,
    GraphicAnnotation,
    GraphicLayer,
    GraphicObject,
    GraphicTypeValues,
    TextObject,
)

import fracture_desktop
from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.image import AnalysedImage
from fracture_desktop.core.dicom_out.sr import rectangle
from fracture_desktop.core.report.entries import ModelIdentity

LAYER = GraphicLayer(layer_name="FRACTURE_AI", order=1, description="Fracture triage (AI)")
#: Content Label (CS, PS3.3 C.10.9): what a viewer lists the state as.
CONTENT_LABEL = "FRACTURE_AI"


def headline(image: AnalysedImage, model: ModelIdentity) -> str:
    """The text drawn at the image's top left: flag, probability, model."""
    finding = image.entry.finding
    return f"{finding.flag.value} p={finding.probability:.2f} ({model.id}); not a diagnosis"


def make_gsps(
    image: AnalysedImage, model: ModelIdentity, series_uid: str, sop_uid: str, series_number: int
) -> hd.pr.GrayscaleSoftcopyPresentationState:
    """The presentation state of one flagged image: its boxes, their scores, the headline."""
    frames = 1 if image.referenced_frames else None
    graphics, texts = [], []
    for box in image.entry.finding.drawn_boxes:
        graphics.append(
            GraphicObject(
                graphic_type=GraphicTypeValues.POLYLINE,
                graphic_data=rectangle(box, image.columns, image.rows),
                units=AnnotationUnitsValues.PIXEL,
            )
        )
        x, y = rectangle(box, image.columns, image.rows)[0]
        texts.append(
            TextObject(
                text_value=f"{box.score:.2f}",
                units=AnnotationUnitsValues.PIXEL,
                anchor_point=(float(x), float(y)),
                anchor_point_visible=False,
            )
        )
    texts.append(
        TextObject(
            text_value=headline(image, model),
            units=AnnotationUnitsValues.DISPLAY,
            bounding_box=(0.01, 0.01, 0.99, 0.06),
        )
    )
    annotation = GraphicAnnotation(
        referenced_images=[image.header],
        graphic_layer=LAYER,
        referenced_frame_number=frames,
        graphic_objects=graphics or None,
        text_objects=texts,
    )
    gsps = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[image.header],
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=fd.MANUFACTURER,
        manufacturer_model_name=model.id,
        software_versions=fracture_desktop.__version__,
        device_serial_number=model.sha256_prefix,
        content_label=CONTENT_LABEL,
        content_description=fd.long_string(f"Boxes and scores of {model.label}"),
        graphic_annotations=[annotation],
        graphic_layers=[LAYER],
    )
    gsps.Laterality = image.laterality
    return gsps
