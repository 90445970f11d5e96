"""Shared vocabulary under every domain: ids, clock, errors, tenancy, paging, priorities. No I/O."""
