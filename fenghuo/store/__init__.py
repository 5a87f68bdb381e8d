"""Fenghuo store (built by later issues)."""
