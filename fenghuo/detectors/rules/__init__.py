"""One module per detector; discovered by `fenghuo.detectors.registry`."""
