"""Fenghuo graph (built by later issues)."""
