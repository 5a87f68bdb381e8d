"""The `feed` group: `fenghuo feed follow` (the feed service), `fenghuo feed push` and
`fenghuo feed log`."""

from __future__ import annotations

from pathlib import Path

import click

from fenghuo.children import stop_on_signals
from fenghuo.intel.push.history import BatchRecord
from fenghuo.intel.push.log import DeliveryLog
from fenghuo.intel.push.pusher import Pusher, PushError, PushPolicy, PushTarget
from fenghuo.intel.push.remote import RemoteError
from fenghuo.settings import get_settings
from fenghuo.store.factory import open_store


@click.group()
def feed() -> None:
    """The regulator feed: write the collections from the incidents, push a collection to a
    remote TAXII 2.1 server, and the push's log."""


@feed.command("push")
@click.option("--collection", "collection_id", required=True, help="the local collection id")
@click.option("--to", "url", required=True, help="URL of the remote TAXII 2.1 collection")
@click.option("--user", help="remote user (default FENGHUO_FEED_PUSH_USER)")
@click.option("--password", help="remote password (default FENGHUO_FEED_PUSH_PASSWORD)")
@click.option(
    "--once/--follow",
    default=True,
    show_default=True,
    help="push what is pending and exit, or keep pushing new versions until Ctrl-C",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="with --once: failed attempts in a row before giving up (nothing is skipped: the next "
    "run resumes); --follow never gives up",
)
@click.option("--batch", "batch_size", type=click.IntRange(1, 1000), default=100, show_default=True)
def push(
    collection_id: str,
    url: str,
    user: str | None,
    password: str | None,
    once: bool,
    max_attempts: int,
    batch_size: int,
) -> None:
    """Send the local collection's new object versions to the remote collection; each version
    once, in date-added order, resuming where the last run stopped."""
    settings = get_settings()
    secret = settings.feed_push_password
    target = PushTarget(
        collection_id=collection_id,
        url=url,
        user=user or settings.feed_push_user,
        password=password or (secret.get_secret_value() if secret is not None else None),
    )
    policy = PushPolicy(
        batch_max_objects=batch_size,
        max_attempts=max_attempts if once else None,
        stop_on_rejection=once,
        follow_interval_s=settings.feed_push_interval_s,
    )
    store = open_store(settings)
    delivery_log = DeliveryLog(settings.feed_push_db)
    try:
        if store.collections.get(collection_id) is None:
            msg = f"no local collection {collection_id}"
            raise click.ClickException(msg)
        pusher = Pusher(store.objects, target, delivery_log, policy=policy)
        try:
            with stop_on_signals() as stop:
                if once:
                    summary = pusher.push_pending(stop)
                    state = "caught up" if summary.caught_up else "interrupted"
                    click.echo(
                        f"pushed {summary.objects} versions in {summary.batches} batches to"
                        f" {url} ({summary.failed_attempts} failed attempts); {state}"
                    )
                else:
                    click.echo(f"pushing {collection_id} -> {url}; Ctrl-C stops it")
                    pusher.follow(stop)
        except (PushError, RemoteError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            pusher.close()
    finally:
        delivery_log.close()
        store.close()


@feed.command("log")
@click.option("--collection", "collection_id", help="only this local collection")
@click.option("--to", "url", help="only this remote collection URL")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def show_log(collection_id: str | None, url: str | None, limit: int) -> None:
    """Print the delivery log: batches (newest last), their attempts and outcomes."""
    settings = get_settings()
    if not settings.feed_push_db.exists():
        click.echo(f"no delivery log at {settings.feed_push_db}")
        return
    delivery_log = DeliveryLog(settings.feed_push_db)
    try:
        for batch in delivery_log.batches(collection_id, url, limit):
            for line in describe_batch(batch):
                click.echo(line)
    finally:
        delivery_log.close()


def describe_batch(batch: BatchRecord) -> list[str]:
    """The log's lines for one batch: a head line, then one per attempt."""
    confirmed = ", ".join(f"{n} {how}" for how, n in sorted(batch.confirmed.items())) or "none"
    lines = [
        f"batch {batch.id}  {batch.opened_at:%Y-%m-%dT%H:%M:%SZ}  {batch.local_collection} ->"
        f" {batch.remote_url}  {batch.size} versions  {batch.outcome}  (confirmed: {confirmed})"
    ]
    for attempt in batch.attempts:
        counts = (
            "total {} success {} failure {} pending {}".format(*attempt.counts)
            if attempt.counts
            else "no status"
        )
        lines.append(
            f"  attempt {attempt.id}  {attempt.started_at:%H:%M:%S.%f}  sent {attempt.sent_count}"
            f" ({attempt.sent_bytes} B)  status {attempt.status_id or '-'}"
            f" [{attempt.status or '-'}] {counts}  -> {attempt.outcome or 'unfinished'}"
            + (f"  ({attempt.error})" if attempt.error else "")
        )
    return lines


@feed.command("follow")
@click.option("--inventory", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bootstrap", help="Kafka bootstrap servers (default from settings)")
def follow(inventory: Path | None, bootstrap: str | None) -> None:
    """Run the feed service: the incidents topic in; every collection's STIX object versions and
    the regulator reports out, to the store; until Ctrl-C."""
    from fenghuo.intel.feed_service import describe, start_feed
    from fenghuo.platform import inventory_store, run_until_signal

    settings = get_settings()
    running = start_feed(
        settings, inventory_store(settings, inventory), bootstrap or settings.kafka_bootstrap
    )
    run_until_signal(running, click.echo, f"feed       {describe(settings)}")
