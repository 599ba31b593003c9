"""Garrison: a self-hosted security plane that speaks the AWS APIs."""

__version__ = "0.1.0"
