"""The native stack: the compose services run as local processes (see README)."""
