"""Detections as code: the detector contract (`base`), the registry that discovers `rules/`, the
engine that runs them, their configuration and baselines."""
