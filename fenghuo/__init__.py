"""Fenghuo (烽火): situational awareness and early warning for multi-tenant public clouds."""

from __future__ import annotations

__version__ = "0.1.0"
