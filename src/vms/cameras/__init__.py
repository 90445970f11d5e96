"""Cameras: the site → building → floor → zone tree, cameras with their streams and credentials, groups."""
