"""`fenghuo feed push`: send a local TAXII collection's new object versions to a regulator's own
TAXII 2.1 server (`pusher`: the recipe and why re-sends are harmless), with the pusher's local
state in its own SQLite file (`log`, read back by `history`), over taxii2-client (`remote`), as a
service of `fenghuo up` (`service`) and on the command line (`cli`)."""

from __future__ import annotations

from fenghuo.intel.push.log import DeliveryLog
from fenghuo.intel.push.pusher import Pusher, PushError, PushPolicy, PushSummary, PushTarget
from fenghuo.intel.push.remote import Remote, RemoteError, RemoteStatus, TaxiiRemote
from fenghuo.intel.push.service import PushService, target_from_settings

__all__ = [
    "DeliveryLog",
    "PushError",
    "PushPolicy",
    "PushService",
    "PushSummary",
    "PushTarget",
    "Pusher",
    "Remote",
    "RemoteError",
    "RemoteStatus",
    "TaxiiRemote",
    "target_from_settings",
]
