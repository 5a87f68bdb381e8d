"""What changed in the SQLite store since a point: the change log the triggers of migration 8
write, read in one indexed range per call.

The API's live stream (`fenghuo.api.stream`) polls this once per tick for all its subscribers;
the log names alerts, incidents (new, rewritten, or triaged) and reports, whichever process
wrote them. Documents are read unscoped here: the stream filters them per subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from fenghuo.model.alert import decode_alert
from fenghuo.model.incident import decode_incident
from fenghuo.store.alerts import AlertStore
from fenghuo.store.base import AlertView, AnalystState, IncidentView

_STATE = msgspec.json.Decoder(AnalystState)
MAX_BATCH = 1000


@dataclass
class ChangeBatch:
    """Changes after a sequence number, oldest first, each target once (its latest version)."""

    last_seq: int
    alerts: list[AlertView] = field(default_factory=list)
    incidents: list[IncidentView] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)  # ids only: reports are scoped per reader
    more: bool = False  # the batch was cut at `limit`: ask again at once


class SqliteChanges:
    def __init__(self, writer: AlertStore) -> None:
        self._writer = writer

    def latest(self) -> int:
        """The newest sequence number (0 when nothing has changed yet)."""
        row = self._writer.connection().execute("SELECT max(seq) FROM changes").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def since(self, seq: int, limit: int = MAX_BATCH) -> ChangeBatch:
        db = self._writer.connection()
        rows = db.execute(
            "SELECT seq, kind, target_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        if not rows:
            return ChangeBatch(last_seq=seq)
        ids: dict[str, list[str]] = {"alert": [], "incident": [], "report": []}
        for _seq, kind, target in rows:
            bucket = ids.get(str(kind))
            if bucket is not None and target not in bucket:
                bucket.append(str(target))
        batch = ChangeBatch(last_seq=int(rows[-1][0]), more=len(rows) == limit)
        batch.reports = ids["report"]
        if ids["alert"]:
            marks = ", ".join("?" * len(ids["alert"]))
            for doc, state in db.execute(
                "SELECT a.doc, s.doc FROM alerts a LEFT JOIN analyst_state s"  # noqa: S608
                f" ON s.target_kind = 'alert' AND s.target_id = a.id WHERE a.id IN ({marks})",
                ids["alert"],
            ):
                batch.alerts.append(AlertView(alert=decode_alert(doc), state=_state(state)))
        if ids["incident"]:
            marks = ", ".join("?" * len(ids["incident"]))
            for doc, state in db.execute(
                "SELECT i.doc, s.doc FROM incidents i LEFT JOIN analyst_state s"  # noqa: S608
                f" ON s.target_kind = 'incident' AND s.target_id = i.id WHERE i.id IN ({marks})",
                ids["incident"],
            ):
                derived = _state(state)
                incident = msgspec.structs.replace(decode_incident(doc), status=derived.status)
                batch.incidents.append(IncidentView(incident=incident, state=derived))
        return batch


def _state(doc: str | None) -> AnalystState:
    return _STATE.decode(doc) if doc is not None else AnalystState()
