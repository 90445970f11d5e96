"""`python -m vms` is the same as the `vms` command."""

from vms.cli import app

app()
