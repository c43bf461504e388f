"""Grayscale Softcopy Presentation States: the boxes and scores drawn over the source image.

For PACS viewers that render no SR (PS3.3 A.33.1). One GSPS per flagged image: a graphic
layer holding each box as a closed POLYLINE in PIXEL units (PS3.3 C.10.5) with its score
as text, and a line of text naming the flag, the probability and the model. The source's
pixels are not copied: the viewer applies the state to the image it already has.

highdicom copies the image's Modality LUT and VOI into the state. Where it refuses the
header (an enhanced image without its functional groups, a VOI LUT table read as numbers),
:func:`own_transformations` states them as the viewer reads them.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from highdicom.pr import (
    AnnotationUnitsValues,
    GraphicAnnotation,
    GraphicLayer,
    GraphicObject,
    GraphicTypeValues,
    SoftcopyVOILUTTransformation,
    TextObject,
)
from pydicom.dataset import Dataset

import fracture_desktop
from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.image import AnalysedImage
from fracture_desktop.core.dicom_out.sr import rectangle
from fracture_desktop.core.imaging.dicom_display import (
    rescale,
    rescale_attributes,
    voi_luts,
    voi_windows,
    window_attributes,
)
from fracture_desktop.core.report.entries import ModelIdentity

LAYER = GraphicLayer(layer_name="FRACTURE_AI", order=1, description="Fracture triage (AI)")
#: Content Label (CS, PS3.3 C.10.9): what a viewer lists the state as.
CONTENT_LABEL = "FRACTURE_AI"


def headline(image: AnalysedImage, model: ModelIdentity) -> str:
    """The text drawn at the image's top left: flag, probability, model."""
    finding = image.entry.finding
    return f"{finding.flag.value} p={finding.probability:.2f} ({model.id}); not a diagnosis"


def own_transformations(
    header: Dataset,
) -> tuple[hd.ModalityLUTTransformation, list[SoftcopyVOILUTTransformation]]:
    """The Modality LUT and VOI of ``header``'s first frame as the viewer reads them
    (PS3.3 C.11.1, C.11.2; an enhanced image's functional groups, C.7.6.16), for the
    Presentation State's Modality LUT and Softcopy VOI LUT modules (C.11.6, C.11.8).

    Raises
    ------
    ValueError
        When the header states no usable window or VOI LUT (the viewer then windows from
        the pixels, which a state built from the header cannot), or a Modality LUT table.
    """
    if "ModalityLUTSequence" in header:
        raise ValueError("its Modality LUT table is not one a presentation state can copy")
    attributes = rescale_attributes(header, 0)
    slope, intercept = rescale(attributes, notes=[])
    modality = hd.ModalityLUTTransformation(
        rescale_intercept=intercept,
        rescale_slope=slope,
        rescale_type=str(attributes.get("RescaleType", "") or "US"),  # US: unspecified
    )
    windows = voi_windows(window_attributes(header, 0))
    if windows:
        voi = SoftcopyVOILUTTransformation(
            window_center=[w.center for w in windows],
            window_width=[w.width for w in windows],
            window_explanation=[w.explanation for w in windows],
            voi_lut_function=windows[0].function.value,
        )
        return modality, [voi]
    luts = voi_luts(header)
    if not luts:
        raise ValueError("its header states no window and no VOI LUT to present it with")
    tables = [
        hd.VOILUT(
            first_mapped_value=lut.first_mapped,
            lut_data=lut.table.astype(np.uint16 if lut.bits > 8 else np.uint8),
            lut_explanation=lut.explanation,
        )
        for lut in luts
    ]
    return modality, [SoftcopyVOILUTTransformation(voi_luts=tables)]


def make_gsps(
    image: AnalysedImage,
    model: ModelIdentity,
    series_uid: str,
    sop_uid: str,
    series_number: int,
    transformations: tuple[hd.ModalityLUTTransformation, list[SoftcopyVOILUTTransformation]]
    | None = None,
) -> hd.pr.GrayscaleSoftcopyPresentationState:
    """The presentation state of one flagged image: its boxes, their scores, the headline;
    its Modality LUT and VOI copied by highdicom, or ``transformations`` when given."""
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
    modality, voi = transformations or (None, None)
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
        modality_lut_transformation=modality,
        voi_lut_transformations=voi,
    )
    gsps.Laterality = image.laterality
    return gsps
