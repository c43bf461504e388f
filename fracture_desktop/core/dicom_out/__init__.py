"""DICOM results: the findings of a triage as objects a PACS files beside the study.

Made with highdicom, per study of analysed DICOM images (docs/REPORTS.md, "DICOM results"):

- ``sr.py``: a Comprehensive SR following TID 1500 (Measurement Report), one per study;
- ``kos.py``: a Key Object Selection listing the flagged images;
- ``gsps.py``: a Grayscale Softcopy Presentation State per flagged image, its boxes and
  scores as graphic annotations (the pixels are not copied);
- ``capture.py``: on request only, a Secondary Capture with the boxes burnt in, labelled
  derived;
- ``write.py``: groups report entries by study and writes the objects atomically;
- ``read_back.py``: reads our SR back into findings, and tells other vendors' SR apart.
"""
