"""Errors the faces turn into one clear line and exit status 2."""


class UsageError(Exception):
    """Bad input from the user: an argument, a file, a setting. Never a bug."""
