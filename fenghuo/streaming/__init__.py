"""Fenghuo streaming (built by later issues)."""
