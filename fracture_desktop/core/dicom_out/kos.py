"""The Key Object Selection of a study: its flagged images (PS3.3 A.35.4, TID 2010).

Titled "Of Interest" (DCM 113000, CID 7010), observed by the device, with a description
that names the model and says what the selection means. A study with no flagged image gets
none: a KOS must reference at least one object.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from highdicom.sr import DeviceObserverIdentifyingAttributes, ObserverContext
from pydicom.sr.codedict import codes

from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.image import AnalysedImage
from fracture_desktop.core.dicom_out.uids import new_uid
from fracture_desktop.core.report.entries import ModelIdentity


def kos_description(model: ModelIdentity) -> str:
    """The KOS's text: what was selected, by which model, and that it is not a diagnosis."""
    return (
        f"Images flagged fracture or doubt by {model.label} (thresholds from the "
        f"{model.thresholds_source}). {model.intended_use}"
    )


def make_kos(
    study: Sequence[AnalysedImage],
    flagged: Sequence[AnalysedImage],
    model: ModelIdentity,
    series_uid: str,
    sop_uid: str,
    series_number: int,
) -> hd.ko.KeyObjectSelectionDocument:
    """The KOS of ``flagged`` (not empty), with every analysed image of ``study`` as evidence
    of the patient and study."""
    device = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=new_uid(), name=model.id, manufacturer_name=fd.MANUFACTURER, model_name=model.id
        ),
    )
    selection = hd.ko.KeyObjectSelection(
        document_title=fd.KOS_TITLE,
        referenced_objects=[image.header for image in flagged],
        observer_device_context=device,
        description=kos_description(model),
    )
    return hd.ko.KeyObjectSelectionDocument(
        evidence=[image.header for image in study],
        content=selection,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=fd.MANUFACTURER,
    )
