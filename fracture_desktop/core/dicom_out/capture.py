"""On request only: a Secondary Capture of a flagged image with its boxes burnt in.

For a PACS that shows neither SR nor presentation states. The pixels are the image in its
default window, bone bright, with the boxes and scores drawn as in the PDF's key images
(:func:`~fracture_desktop.core.report.imagery.draw_boxes`) and the headline at the top. It
is a derived picture and says so: Image Type DERIVED\\SECONDARY, Burned In Annotation YES,
a Derivation Description naming the model, and a Source Image Sequence pointing at the
original (PS3.3 A.8.1, C.7.6.1, C.8.6).
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset

from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.gsps import headline
from fracture_desktop.core.dicom_out.image import AnalysedImage
from fracture_desktop.core.imaging.guard import guarded_image
from fracture_desktop.core.imaging.image import display_grey
from fracture_desktop.core.report.entries import ModelIdentity
from fracture_desktop.core.report.imagery import draw_boxes


def burnt_in(image: AnalysedImage, model: ModelIdentity) -> np.ndarray:
    """The RGB picture: the first frame in its default window, boxes and headline drawn."""
    grey = display_grey(guarded_image(image.entry.path))
    rgb = np.repeat((np.clip(grey, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)
    drawn = Image.fromarray(draw_boxes(rgb, image.entry.finding.drawn_boxes, 1.0))
    # Legible on a full-size radiograph: about a fortieth of its width.
    font = ImageFont.load_default(size=max(16, drawn.width // 40))
    ImageDraw.Draw(drawn).text((8, 8), headline(image, model), fill=(255, 255, 0), font=font)
    return np.asarray(drawn)


def make_capture(
    image: AnalysedImage,
    model: ModelIdentity,
    series_uid: str,
    sop_uid: str,
    series_number: int,
    instance_number: int,
) -> hd.sc.SCImage:
    """The Secondary Capture of one flagged image (decoded again, in the guard).

    Raises
    ------
    ImageLoadError
        The image no longer decodes.
    """
    stated = [str(v) for v in image.header.get("PatientOrientation") or ()]
    capture = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=image.header,
        pixel_array=burnt_in(image, model),
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=instance_number,
        manufacturer=fd.MANUFACTURER,
        # highdicom insists on an orientation and knows single letters only ("PF" is
        # valid DICOM): the source's is written below, empty when it states none.
        patient_orientation=("L", "F"),
        transfer_syntax_uid="1.2.840.10008.1.2.1",
    )
    del capture.PatientOrientation
    capture.add_new("PatientOrientation", "CS", stated if len(stated) == 2 else None)
    capture.Laterality = image.laterality
    capture.ImageType = ["DERIVED", "SECONDARY"]
    capture.BurnedInAnnotation = "YES"
    capture.DerivationDescription = f"Boxes and scores of {model.label} burnt in; not a diagnosis"
    source = Dataset()
    source.ReferencedSOPClassUID = image.sop_class_uid
    source.ReferencedSOPInstanceUID = image.header.SOPInstanceUID
    capture.SourceImageSequence = [source]
    return capture
