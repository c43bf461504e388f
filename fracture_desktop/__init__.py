"""Fracture Desktop: a local radiograph viewer with a fracture-flagging CNN."""

__version__ = "0.1.0"
