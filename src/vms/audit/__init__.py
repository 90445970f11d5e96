"""Audit: the immutable record of every change (who, when, what, old and new value)."""
