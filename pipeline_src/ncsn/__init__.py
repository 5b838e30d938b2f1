"""NCSN reproduction library: score networks, noise schedules, losses, samplers, data, training and metrics."""

from importlib import metadata

try:  # one definition of the version: pyproject.toml, read from the installed package's metadata
    __version__ = metadata.version("ncsn-pipeline")
except metadata.PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"
