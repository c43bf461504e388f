"""The DICOM node: a storage SCP that receives radiographs (``receiver.py``) and a C-STORE
SCU that sends our results back (``sender.py``), both with pynetdicom. The ``listen``
command (:mod:`fracture_desktop.listen`) triages each study they bring.
"""
