"""Botskis: a self-hostable platform for AI automation agents."""

__version__ = "0.1.0"
