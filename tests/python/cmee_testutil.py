"""Helpers shared by the Python test suites."""
import os


def cli_binary():
    """The cmee CLI to compare with, or None."""
    path = os.environ.get("CMEE_BIN")
    if path:
        return path
    libpath = os.environ.get("CMEE_LIBRARY")
    if libpath:
        guess = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(libpath))),
                             "examples", "cmee")
        if os.access(guess, os.X_OK):
            return guess
    return None
