"""VMS Platform: video management with AI analytics."""

__version__ = "0.1.0"
