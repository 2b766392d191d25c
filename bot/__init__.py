"""Safer K&C: a community-safety assistant for Kensington and Chelsea."""

__version__ = "0.1.0"
