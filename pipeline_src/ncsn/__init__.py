"""NCSN reproduction library: score networks, noise schedules, losses, samplers, data, training and metrics."""

__version__ = "0.1.0"
