"""The published JSON Schema of the native format: up to date, complete, and true of real events.

`jsonschema` is not a dependency, so events are checked with a small validator for the keywords
msgspec generates (a test below fails if the schema starts using another one); with `jsonschema`
installed, the full validator runs too.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fenghuo.model import Event, decode_event, encode_event
from fenghuo.model.schema import (
    JSON_SCHEMA_DIALECT,
    SCHEMA_ID,
    SCHEMA_PATH,
    native_event_schema,
    render_schema,
    write_schema,
)
from tests.ingest.parsers.helpers import sample_events

EVENT_CLASSES: tuple[type[Any], ...] = typing.get_args(Event)
# Keywords the small validator below understands (annotations it may ignore included).
KNOWN_KEYWORDS = {
    "$defs", "$id", "$ref", "$schema", "additionalProperties", "anyOf", "default", "description",
    "discriminator", "enum", "format", "items", "properties", "required", "title", "type",
}  # fmt: skip
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
JSON_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}


def validate(
    instance: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$"
) -> list[str]:
    """Problems of `instance` against `schema` (empty when valid)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return validate(instance, root["$defs"][name], root, path)
    if "anyOf" in schema and all(validate(instance, s, root, path) for s in schema["anyOf"]):
        return [f"{path}: matches none of anyOf"]
    if "enum" in schema and instance not in schema["enum"]:
        return [f"{path}: {instance!r} not in {schema['enum']}"]
    expected = schema.get("type")
    if expected is not None:
        is_bool = isinstance(instance, bool)
        if not isinstance(instance, JSON_TYPES[expected]) or (is_bool and expected != "boolean"):
            return [f"{path}: expected {expected}, got {type(instance).__name__}"]
    problems: list[str] = []
    if schema.get("format") == "date-time" and not RFC3339.fullmatch(instance):
        problems.append(f"{path}: not an RFC 3339 date-time: {instance!r}")
    if isinstance(instance, dict):
        problems += [
            f"{path}: missing {k}" for k in schema.get("required", ()) if k not in instance
        ]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                problems += validate(value, properties[key], root, f"{path}.{key}")
            elif extra is False:
                problems.append(f"{path}: unexpected {key}")
            elif isinstance(extra, dict):
                problems += validate(value, extra, root, f"{path}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            problems += validate(item, schema["items"], root, f"{path}[{index}]")
    return problems


def keywords(schema: Any) -> set[str]:
    """Every keyword used anywhere in `schema` (property names and $defs names excluded)."""
    if isinstance(schema, list):
        return set().union(*(keywords(s) for s in schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, value in schema.items():
        if key in {"properties", "$defs"}:
            found |= set().union(*(keywords(v) for v in value.values()))
        elif key not in {"enum", "default", "discriminator", "required"}:
            found |= keywords(value)
    return found


def minimal_instance(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """The smallest JSON value the schema's required fields allow, built from the schema alone."""
    if "$ref" in schema:
        return minimal_instance(root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return minimal_instance(schema["anyOf"][0], root)
    if schema.get("format") == "date-time":
        return "2026-01-05T10:00:00Z"
    kind = schema["type"]
    if kind == "object":
        properties = schema.get("properties", {})
        return {k: minimal_instance(properties[k], root) for k in schema.get("required", ())}
    return {"array": [], "string": "x", "integer": 1, "number": 1.5, "boolean": True}[kind]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return native_event_schema()


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "native-event.schema.json is stale: run `python -m fenghuo.model.schema`"
    )


def test_write_schema(tmp_path: Path) -> None:
    written = write_schema(tmp_path / "schema.json")
    text = written.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert json.loads(text) == native_event_schema()
    assert list(json.loads(text)) == sorted(json.loads(text))  # keys sorted


def test_envelope(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"]
    assert schema["description"]


def test_every_kind_is_in_the_discriminator(schema: dict[str, Any]) -> None:
    tags = {cls.__struct_config__.tag: cls.__name__ for cls in EVENT_CLASSES}
    assert schema["discriminator"]["propertyName"] == "kind"
    assert schema["discriminator"]["mapping"] == {t: f"#/$defs/{n}" for t, n in tags.items()}
    assert [s["$ref"] for s in schema["anyOf"]] == [f"#/$defs/{n}" for n in tags.values()]
    for tag, name in tags.items():
        assert schema["$defs"][name]["properties"]["kind"] == {"enum": [tag]}


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_required_fields_match_the_model(schema: dict[str, Any], cls: type[Any]) -> None:
    definition = schema["$defs"][cls.__name__]
    required = [f.encode_name for f in msgspec.structs.fields(cls) if f.required]
    assert definition["required"] == ["kind", *required]
    for name in ("id", "event_time", "ingest_time", "source_format", "raw"):
        assert name in definition["required"]
    assert definition["properties"]["event_time"] == {"type": "string", "format": "date-time"}


def test_the_validator_knows_every_keyword_used(schema: dict[str, Any]) -> None:
    assert keywords(schema) <= KNOWN_KEYWORDS


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_a_minimal_event_of_every_kind_round_trips(schema: dict[str, Any], cls: type[Any]) -> None:
    record = minimal_instance(schema["$defs"][cls.__name__], schema)
    assert validate(record, schema, schema) == []
    event = decode_event(json.dumps(record))
    assert type(event) is cls
    assert decode_event(encode_event(event)) == event
    assert validate(json.loads(encode_event(event)), schema, schema) == []


def test_parsed_events_validate(schema: dict[str, Any], samples: Path) -> None:
    events = sample_events(samples)
    assert len(events) == 15
    for event in events:
        assert validate(json.loads(encode_event(event)), schema, schema) == [], event


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "teleport"}, "matches none of anyOf"),
        ({"event_time": "2026-01-05 10:00"}, "matches none of anyOf"),
        ({"src_port": "22"}, "matches none of anyOf"),
        ({"id": None}, "matches none of anyOf"),
    ],
)
def test_the_validator_rejects_broken_events(
    schema: dict[str, Any], samples: Path, change: dict[str, Any], problem: str
) -> None:
    record = json.loads(encode_event(sample_events(samples)[0]))
    record.update(change)
    assert validate(record, schema, schema) == [f"$: {problem}"]
    flow = schema["$defs"]["Flow"]
    assert validate(record, flow, schema) != []


def test_with_jsonschema_when_installed(schema: dict[str, Any], samples: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.check_schema(schema)
    for event in sample_events(samples):
        validator.validate(json.loads(encode_event(event)))
