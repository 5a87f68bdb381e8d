"""The JSON Schema of the `native` format, generated from the event model.

The model is the source of truth; the committed `native-event.schema.json` is this module's output
(a test keeps the two equal). Regenerate it after a model change with
`python -m fenghuo.model.schema`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from fenghuo.model.events import SCHEMA_VERSION, Event

SCHEMA_PATH = Path(__file__).with_name("native-event.schema.json")
SCHEMA_ID = f"urn:fenghuo:schema:native-event:v{SCHEMA_VERSION}"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def native_event_schema() -> dict[str, Any]:
    """One native event (one JSON line), discriminated by `kind`; plain JSON types only."""
    # Through JSON and back: msgspec leaves tuple defaults as tuples.
    generated: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(msgspec.json.schema(Event)))
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "Fenghuo native event",
        "description": (
            "One normalised Fenghuo event, as one line of the `native` JSON-lines format. "
            "`kind` selects the event class; times are RFC 3339 with a UTC offset; "
            f"schema_version {SCHEMA_VERSION}."
        ),
        **generated,
    }


def render_schema() -> str:
    """The schema as committed: indented, keys sorted, trailing newline, so diffs stay small."""
    return json.dumps(native_event_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: Path | str = SCHEMA_PATH) -> Path:
    """Write the schema to `path` (the committed file by default) and return the path."""
    target = Path(path)
    target.write_text(render_schema(), encoding="utf-8")
    return target


if __name__ == "__main__":
    write_schema(sys.argv[1] if len(sys.argv) > 1 else SCHEMA_PATH)
