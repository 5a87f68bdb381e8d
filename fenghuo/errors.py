"""Exception roots. Each area of the package raises a subclass carrying its context."""

from __future__ import annotations


class FenghuoError(Exception):
    """Root of every error Fenghuo raises on purpose."""


class ConfigError(FenghuoError):
    """Settings or a configuration file are invalid."""


class InventoryError(ConfigError):
    """The inventory file is invalid; `problems` lists every problem found, with its location."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid inventory {source}:\n{lines}")


class IngestError(FenghuoError):
    """Telemetry could not be accepted or published."""


class BrokerUnavailableError(IngestError):
    """Kafka (or the embedded broker) did not acknowledge in time."""


class ArtifactError(FenghuoError):
    """A pinned download is missing, or its checksum does not match."""


class StreamJobError(FenghuoError):
    """The stream job failed to start or ended in failure."""


class PlatformError(FenghuoError):
    """A part of the running platform (`fenghuo up`) failed."""
