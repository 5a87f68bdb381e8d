"""The push as a service of `fenghuo up`: the target from settings, its own delivery log, the
store's object repository, until stopped.

Usage by the platform (the correlator's pattern, `fenghuo.graph.runner.ServiceThread`):

    service = PushService.from_settings(settings, store)   # None when no target is configured
    if service is not None:
        running = ServiceThread(service, store, name="feed push"); running.start()

It never gives up on its own (a remote away for days delays the reports, it loses none), so the
thread only ends when stopped, or on a bug (which `ServiceThread.failure()` then reports).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

from fenghuo.errors import ConfigError
from fenghuo.intel.objects import ObjectRepository
from fenghuo.intel.push.log import DeliveryLog
from fenghuo.intel.push.pusher import Pusher, PushPolicy, PushTarget
from fenghuo.settings import Settings
from fenghuo.store.base import Store

log = logging.getLogger(__name__)


def target_from_settings(settings: Settings) -> PushTarget | None:
    """The configured push target, None when neither collection nor URL is set."""
    collection, url = settings.feed_push_collection, settings.feed_push_url
    if not collection and not url:
        return None
    if not collection or not url:
        msg = "FENGHUO_FEED_PUSH_COLLECTION and FENGHUO_FEED_PUSH_URL go together"
        raise ConfigError(msg)
    password = settings.feed_push_password
    return PushTarget(
        collection_id=collection,
        url=url,
        user=settings.feed_push_user,
        password=password.get_secret_value() if password is not None else None,
    )


class PushService:
    """Push one target continuously (`run(stop)`) with a delivery log at `log_path`."""

    def __init__(
        self,
        objects: ObjectRepository,
        target: PushTarget,
        log_path: Path,
        policy: PushPolicy | None = None,
    ) -> None:
        self.objects = objects
        self.target = target
        self.log_path = log_path
        # Never give up, never stop on a rejection: retry at the slowest pace and say so.
        self.policy = replace(policy or PushPolicy(), max_attempts=None, stop_on_rejection=False)

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> PushService | None:
        target = target_from_settings(settings)
        if target is None:
            return None
        policy = PushPolicy(follow_interval_s=settings.feed_push_interval_s)
        return cls(store.objects, target, settings.feed_push_db, policy)

    def describe(self) -> str:
        return (
            f"collection {self.target.collection_id} -> {self.target.url}"
            f" (delivery log {self.log_path})"
        )

    def run(self, stop: threading.Event) -> None:
        delivery_log = DeliveryLog(self.log_path)
        pusher = Pusher(self.objects, self.target, delivery_log, policy=self.policy)
        try:
            log.info("pushing %s", self.describe())
            pusher.follow(stop)
        finally:
            pusher.close()
            delivery_log.close()
