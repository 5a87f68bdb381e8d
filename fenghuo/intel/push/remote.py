"""The other side of a push: one remote TAXII 2.1 collection, reached with taxii2-client.

`Remote` is the small surface the pusher needs (the API root's size limit, add objects, read a
status, which versions the remote already holds); `TaxiiRemote` implements it over
`taxii2client.v21`, tests may fake it. Every failure comes out as a `RemoteError` saying whether
retrying can help (`transient`: no answer, a timeout, 5xx, 408, 429) or not (other 4xx, a
malformed answer is treated as transient: a proxy in between may have mangled it).

taxii2-client sets no timeout on its requests: a remote that accepts the connection and never
answers would hang the pusher forever. Its connection object is built here with a
`requests` adapter that gives every request a default timeout (and no hidden retries: retrying
is the pusher's job, with its log).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from taxii2client.common import _HTTPConnection
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot, Collection, Status, as_pages

from fenghuo.errors import FenghuoError
from fenghuo.intel.objects import format_timestamp
from fenghuo.intel.push.history import Ref

T = TypeVar("T")
# How many ids one manifest query names (the ids go into the URL; servers cap its length).
_MANIFEST_IDS_PER_QUERY = 40
_MANIFEST_PAGE = 100


class RemoteError(FenghuoError):
    """A call to the remote TAXII server failed; `transient` says whether a retry can help."""

    def __init__(self, message: str, *, transient: bool, http_status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.http_status = http_status


@dataclass(frozen=True, slots=True)
class RemoteStatus:
    """A TAXII status resource, reduced to what the pusher decides on."""

    id: str
    status: str  # "complete" or "pending"
    total: int
    success: int
    failure: int
    pending: int
    successes: tuple[Ref, ...] = ()
    failures: tuple[tuple[Ref, str], ...] = ()
    pendings: tuple[Ref, ...] = field(default=())

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return (self.total, self.success, self.failure, self.pending)

    @property
    def complete(self) -> bool:
        return self.status == "complete"


class Remote(Protocol):
    def max_content_length(self) -> int:
        """The API root's `max_content_length` (bytes of one POST body)."""

    def add(self, envelope: bytes) -> RemoteStatus:
        """POST an envelope to the collection's objects endpoint; the first status answer."""

    def status(self, status_id: str) -> RemoteStatus: ...

    def present(self, refs: Sequence[Ref], any_version: Set[str] = frozenset()) -> set[Ref]:
        """Which of these (id, version) pairs the remote collection already holds; for the ids
        in `any_version` (objects without `modified` or `created`, whose version each server
        makes up from its own clock) any version counts."""

    def close(self) -> None: ...


def version_key(version: str) -> str:
    """A STIX timestamp in one spelling (microseconds, Z) so that `...00Z` and `...00.000Z`
    compare equal; text that is not a timestamp is compared as it is."""
    try:
        moment = dt.datetime.fromisoformat(version)
    except ValueError:
        return version
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_timestamp(moment)


def ref_key(ref: Ref) -> Ref:
    return (ref[0], version_key(ref[1]))


class _TimeoutAdapter(HTTPAdapter):
    """Every request gets `timeout` unless the caller gave one; no transport-level retries."""

    def __init__(self, timeout: float) -> None:
        super().__init__(max_retries=0)
        self._timeout = timeout

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, *args, **kwargs)


def _refs(details: Iterable[Mapping[str, Any]] | None) -> tuple[Ref, ...]:
    return tuple((str(d.get("id")), str(d.get("version"))) for d in details or ())


def _status(raw: Mapping[str, Any]) -> RemoteStatus:
    return RemoteStatus(
        id=str(raw["id"]),
        status=str(raw["status"]),
        total=int(raw["total_count"]),
        success=int(raw["success_count"]),
        failure=int(raw["failure_count"]),
        pending=int(raw["pending_count"]),
        successes=_refs(raw.get("successes")),
        failures=tuple(
            ((str(d.get("id")), str(d.get("version"))), str(d.get("message") or ""))
            for d in raw.get("failures") or ()
        ),
        pendings=_refs(raw.get("pendings")),
    )


class TaxiiRemote:
    """A remote collection given by its URL (`.../<api root>/collections/<id>/`)."""

    def __init__(
        self,
        collection_url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = collection_url if collection_url.endswith("/") else collection_url + "/"
        self.api_root_url = urljoin(self.url, "../../")
        self._conn = _HTTPConnection(user, password, version="2.1")
        adapter = _TimeoutAdapter(timeout)
        self._conn.session.mount("http://", adapter)
        self._conn.session.mount("https://", adapter)
        self._collection: Any = None

    def close(self) -> None:
        self._conn.close()

    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except requests.HTTPError as exc:
            code = exc.response.status_code if exc.response is not None else None
            transient = code is None or code >= 500 or code in (408, 429)
            msg = f"{what}: HTTP {code} from {self.url}"
            raise RemoteError(msg, transient=transient, http_status=code) from exc
        except requests.RequestException as exc:
            msg = f"{what}: {type(exc).__name__}: {exc}"
            raise RemoteError(msg, transient=True) from exc
        except (TAXIIServiceException, KeyError, TypeError, ValueError) as exc:
            msg = f"{what}: unexpected answer: {type(exc).__name__}: {exc}"
            raise RemoteError(msg, transient=True) from exc

    def _loaded_collection(self) -> Any:
        if self._collection is None:
            collection = Collection(self.url, conn=self._conn)
            self._call("reading the collection", collection.refresh)
            if not collection.can_write:
                msg = f"the remote collection {self.url} does not accept writes (can_write false)"
                raise RemoteError(msg, transient=False)
            self._collection = collection
        return self._collection

    def max_content_length(self) -> int:
        root = ApiRoot(self.api_root_url, conn=self._conn)
        self._call("reading the API root", root.refresh_information)
        return int(root.max_content_length)

    def add(self, envelope: bytes) -> RemoteStatus:
        collection = self._loaded_collection()

        def post() -> RemoteStatus:
            status = collection.add_objects(envelope, wait_for_completion=False)
            return _status(status._raw)

        return self._call("adding objects", post)

    def status(self, status_id: str) -> RemoteStatus:
        status = Status(
            urljoin(self.api_root_url, f"status/{status_id}/"),
            conn=self._conn,
            status_info={
                "id": status_id,
                "status": "pending",
                "total_count": 0,
                "success_count": 0,
                "failure_count": 0,
                "pending_count": 0,
            },
        )
        self._call("reading the status", status.refresh)
        return self._call("reading the status", lambda: _status(status._raw))

    def present(self, refs: Sequence[Ref], any_version: Set[str] = frozenset()) -> set[Ref]:
        """Ask the manifest (all versions) of the batch's ids; a page at a time."""
        collection = self._loaded_collection()
        wanted = {ref_key(r): r for r in refs}
        ids = sorted({r[0] for r in refs})
        found: set[Ref] = set()
        for start in range(0, len(ids), _MANIFEST_IDS_PER_QUERY):
            chunk = ids[start : start + _MANIFEST_IDS_PER_QUERY]

            def query(chunk: list[str] = chunk) -> list[Ref]:
                seen: list[Ref] = []
                pages = as_pages(
                    collection.get_manifest, per_request=_MANIFEST_PAGE, id=chunk, version="all"
                )
                for page in pages:
                    seen += [(str(m["id"]), str(m["version"])) for m in page.get("objects", [])]
                return seen

            for entry in self._call("reading the manifest", query):
                if (key := ref_key(entry)) in wanted:
                    found.add(wanted[key])
                elif entry[0] in any_version:
                    found.update(r for r in refs if r[0] == entry[0])
        return found
