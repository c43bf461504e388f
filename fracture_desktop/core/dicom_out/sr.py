"""The study's Structured Report: TID 1500 (Measurement Report), made with highdicom.

One Comprehensive SR per study (PS3.3 A.35.3). Its content tree (PS3.16 TID 1500):

- the observer is the device (TID 1004): the model's id and our manufacturer name;
- per analysed image, an image-level measurement group (TID 1501) referencing the source
  SOP instance: the flag as a qualitative evaluation, the calibrated probability and the two
  thresholds in use as measurements;
- per suspected fracture box of a flagged image, a planar ROI group (TID 1410) whose image
  region is a closed POLYLINE SCOORD on the source SOP instance, with the box's score;
- every group names the algorithm (TID 4019): the model id and version, and as parameters
  the weights' sha256, where the thresholds came from and the intended-use sentence.

Codes are in :mod:`.codes`; :mod:`.read_back` reads the same tree.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from highdicom.sr import (
    AlgorithmIdentification,
    DeviceObserverIdentifyingAttributes,
    ImageRegion,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    PlanarROIMeasurementsAndQualitativeEvaluations,
    QualitativeEvaluation,
    SourceImageForMeasurementGroup,
    SourceImageForRegion,
    TrackingIdentifier,
)
from pydicom.sr.codedict import codes

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.image import AnalysedImage
from fracture_desktop.core.dicom_out.uids import new_uid
from fracture_desktop.core.report.entries import ModelIdentity

#: Algorithm parameter prefixes (TID 4019 TEXT items), read back by :mod:`.read_back`.
SHA256_PARAMETER = "weights sha256 "
THRESHOLDS_PARAMETER = "thresholds from the "
INTENDED_USE_PARAMETER = "intended use: "


def algorithm(model: ModelIdentity) -> AlgorithmIdentification:
    """TID 4019 for ``model``: id, version, weights sha256, thresholds' source, intended use."""
    return AlgorithmIdentification(
        name=model.id,
        version=model.version,
        parameters=[
            SHA256_PARAMETER + (model.sha256 or model.sha256_prefix),
            THRESHOLDS_PARAMETER + model.thresholds_source,
            INTENDED_USE_PARAMETER + model.intended_use,
        ],
        manufacturer=fd.MANUFACTURER,
    )


def rectangle(box: Box, columns: int, rows: int) -> np.ndarray:
    """``box`` as a closed POLYLINE (five column/row points), clipped to the image.

    PS3.3 C.18.6.1.1: (0, 0) is the top left corner of the top left pixel, as in the
    stored-pixel coordinates boxes are given in (:class:`~fracture_desktop.core.boxes.Box`).
    """
    x0, x1 = sorted(float(np.clip(v, 0, columns)) for v in (box.x0, box.x1))
    y0, y1 = sorted(float(np.clip(v, 0, rows)) for v in (box.y0, box.y1))
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=np.float32)


def _measurement(name: hd.sr.CodedConcept, value: float) -> Measurement:
    return Measurement(name=name, value=float(value), unit=fd.NO_UNITS)


def image_group(
    image: AnalysedImage, number: int, model: ModelIdentity, algo: AlgorithmIdentification
) -> MeasurementsAndQualitativeEvaluations:
    """TID 1501 for one analysed image: its flag, probability and thresholds."""
    finding = image.entry.finding
    assert finding.probability is not None  # only analysed images reach here (write.py)
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=new_uid(), identifier=f"image {number}"),
        finding_type=fd.FRACTURE,
        algorithm_id=algo,
        source_images=[
            SourceImageForMeasurementGroup.from_source_image(image.header, image.referenced_frames)
        ],
        measurements=[
            _measurement(fd.PROBABILITY, finding.probability),
            _measurement(fd.FRACTURE_THRESHOLD, model.thresholds.fracture),
            _measurement(fd.DOUBT_THRESHOLD, model.thresholds.doubt),
        ],
        qualitative_evaluations=[
            QualitativeEvaluation(fd.TRIAGE_RESULT, fd.FLAG_CODES[finding.flag])
        ],
    )


def box_groups(
    image: AnalysedImage, number: int, algo: AlgorithmIdentification
) -> list[PlanarROIMeasurementsAndQualitativeEvaluations]:
    """TID 1410 per box drawn on a flagged image: the region and its score."""
    groups = []
    frames = image.referenced_frames
    for k, box in enumerate(image.entry.finding.drawn_boxes, start=1):
        region = ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
            graphic_data=rectangle(box, image.columns, image.rows),
            source_image=SourceImageForRegion.from_source_image(image.header, frames),
        )
        groups.append(
            PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=TrackingIdentifier(
                    uid=new_uid(), identifier=f"image {number} box {k}"
                ),
                referenced_region=region,
                finding_type=fd.FRACTURE,
                algorithm_id=algo,
                measurements=[_measurement(fd.BOX_SCORE, box.score)],
            )
        )
    return groups


def make_sr(
    images: Sequence[AnalysedImage],
    model: ModelIdentity,
    series_uid: str,
    sop_uid: str,
    series_number: int,
) -> hd.sr.ComprehensiveSR:
    """The study's Comprehensive SR (TID 1500) for ``images``, all of one study."""
    algo = algorithm(model)
    device = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=new_uid(), name=model.id, manufacturer_name=fd.MANUFACTURER, model_name=model.id
        ),
    )
    groups: list[
        MeasurementsAndQualitativeEvaluations | PlanarROIMeasurementsAndQualitativeEvaluations
    ] = []
    for number, image in enumerate(images, start=1):
        groups.append(image_group(image, number, model, algo))
        groups.extend(box_groups(image, number, algo))
    report = MeasurementReport(
        observation_context=ObservationContext(observer_device_context=device),
        procedure_reported=fd.PROCEDURE,
        imaging_measurements=groups,
        title=fd.TITLE,
    )
    return hd.sr.ComprehensiveSR(
        evidence=[image.header for image in images],
        content=report,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=fd.MANUFACTURER,
        is_complete=True,
    )
