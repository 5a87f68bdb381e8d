"""`POST /api/v1/ingest/{format}`: raw telemetry over HTTP.

The body is raw records (NDJSON, or the format's own file form such as a CloudTrail
`{"Records": [...]}` document), optionally gzip-compressed. A request's accepted events and dead
letters are published in one Kafka transaction (`fenghuo.ingest.kafka.transactional`). 202: it
committed. 503 with Retry-After: it did not commit within the deadline and was aborted, so
nothing of the request is visible to read_committed consumers (every reader of the telemetry
topics) and the sender's resend cannot duplicate a record.
"""

from __future__ import annotations

import zlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import IngestCaller, ServicesDep
from fenghuo.api.problems import PROBLEM_RESPONSES, Problem
from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.parsers import FORMATS, RawLine, RecordError

router = APIRouter(tags=["ingest"])

# Per-record errors listed in a response; all of them are dead-lettered whatever the count.
MAX_LISTED_ERRORS = 100


class RecordProblem(BaseModel):
    line: int | None
    reason: str


class IngestAccepted(BaseModel):
    format: str
    lines: int = Field(description="lines received")
    accepted: int = Field(description="events published and acknowledged")
    rejected: int = Field(description="records rejected and kept on the dead-letter topic")
    unattributed: int = Field(description="accepted events no tenant could be resolved for")
    topics: dict[str, int]
    errors: list[RecordProblem] = Field(description=f"the first {MAX_LISTED_ERRORS} rejections")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "Body too large", f"the limit is {limit} bytes", limit=limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(413, "Body too large", f"the limit is {limit} bytes", limit=limit)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        return _gunzip(bytes(body), limit)
    if encoding not in ("identity", ""):
        raise Problem(415, "Unsupported content encoding", f"{encoding!r}; use gzip or none")
    return bytes(body)


def _gunzip(data: bytes, limit: int) -> bytes:
    # Bounded decompression: a small bomb must not expand past the body limit.
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise Problem(400, "Bad gzip body", str(exc)) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise Problem(413, "Body too large", f"decompressed beyond {limit} bytes", limit=limit)
    return out


def split_lines(
    body: bytes, source: str, format_name: str
) -> tuple[list[RawLine], list[RecordError]]:
    """Lines of the body; a line that is not UTF-8 becomes a record error, kept for the DLQ."""
    lines: list[RawLine] = []
    errors: list[RecordError] = []
    for number, raw in enumerate(body.splitlines(), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(
                RecordError(
                    format=format_name,
                    source=source,
                    line=number,
                    reason=f"not valid UTF-8 at byte {exc.start}",
                    raw=raw.decode("utf-8", "backslashreplace"),
                )
            )
            continue
        lines.append(RawLine(source, number, text))
    return lines, errors


@router.post(
    "/ingest/{format_name}",
    status_code=202,
    response_model=IngestAccepted,
    responses=PROBLEM_RESPONSES,
    summary="Submit raw telemetry records",
)
async def ingest(
    format_name: str,
    request: Request,
    caller: IngestCaller,
    services: ServicesDep,
    host: Annotated[
        str | None, Query(description="host the records came from, when the format lacks it")
    ] = None,
) -> IngestAccepted:
    if format_name not in FORMATS:
        raise Problem(404, "Unknown format", f"expected one of: {', '.join(FORMATS)}")
    body = await _read_body(request, services.settings.ingest_max_body_bytes)
    via = f"http:{caller.name}"
    lines, bad_lines = split_lines(body, via, format_name)
    ingestor = services.ingestor
    if ingestor is None:
        raise Problem(503, "Ingest is not served here", "this API runs without a broker")
    try:
        report = await run_in_threadpool(
            ingestor.ingest,
            format_name,
            lines,
            host_id=host,
            received_via=via,
            extra_errors=bad_lines,
        )
    except BrokerUnavailableError as exc:
        retry = services.settings.ingest_retry_after_s
        raise Problem(
            503,
            "Telemetry broker unavailable",
            f"nothing from this request was committed; retry later ({exc})",
            headers={"Retry-After": str(retry)},
        ) from None
    errors = report.errors[:MAX_LISTED_ERRORS]
    return IngestAccepted(
        format=format_name,
        lines=len(lines) + len(bad_lines),
        accepted=report.published,
        rejected=report.dead_lettered,
        unattributed=report.unattributed,
        topics=dict(report.per_topic),
        errors=[RecordProblem(line=e.line, reason=e.reason) for e in errors],
    )
