"""`fenghuo archive`: the archive service on its own (`fenghuo.evidence.service`)."""

from __future__ import annotations

import click

from fenghuo.settings import get_settings


@click.command("archive")
@click.option("--bootstrap", help="Kafka bootstrap servers (default from settings)")
def archive_command(bootstrap: str | None) -> None:
    """Run the archive service: the telemetry topics in, the event archive (alerts' evidence)
    out, until Ctrl-C. `fenghuo up` runs it as a thread."""
    from fenghuo.evidence.service import describe, start_archive
    from fenghuo.platform import run_until_signal

    settings = get_settings()
    running = start_archive(settings, bootstrap or settings.kafka_bootstrap)
    run_until_signal(running, click.echo, f"archive    {describe(settings)}")
