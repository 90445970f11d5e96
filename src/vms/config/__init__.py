"""Hierarchical configuration: system → customer → site → camera, with provenance, a cache that
every process invalidates on change, versions and rollback (requirements §8, DESIGN.md §5)."""
