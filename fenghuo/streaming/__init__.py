"""The PyFlink detection job (`fenghuo stream`) and the bounded replay runner that runs the same
detectors over files (`fenghuo replay`)."""
