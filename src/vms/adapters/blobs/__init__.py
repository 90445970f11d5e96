"""Blob adapters: local filesystem (single box, edge) and S3."""
