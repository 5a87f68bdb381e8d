"""Fenghuo api (built by later issues)."""
