"""repropack: make notebook results reproducible and checkable."""

__version__ = "0.1.0"
