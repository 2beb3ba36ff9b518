"""Wire formats -> the project's events. One module per format; no I/O here."""
