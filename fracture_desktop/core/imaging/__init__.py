"""Finding, reading and displaying radiographs. Pure Python + numpy + pydicom; no Qt."""
