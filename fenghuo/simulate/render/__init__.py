"""One renderer per real format: the exact text the real tool writes."""
