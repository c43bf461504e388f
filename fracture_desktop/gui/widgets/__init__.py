"""Widgets of the main window; each draws one thing and reports user intent by signals."""
