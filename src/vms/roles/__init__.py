"""Process roles: each builds the container from settings and runs one domain's loop."""
