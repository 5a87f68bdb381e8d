"""Fenghuo detectors (built by later issues)."""
