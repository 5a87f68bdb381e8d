"""`fenghuo stix export` end to end: the hour's incidents in a SQLite store, bundles out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from stix2validator import ValidationOptions, validate_instance

from fenghuo.api.pseudonyms import pseudonym
from fenghuo.cli import main
from fenghuo.settings import Settings, get_settings
from fenghuo.store.sqlite import SqliteStore
from tests.api.seeded import Hour

KEY = "cli-test-pseudonym-key"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"


@pytest.fixture
def configured(tmp_path: Path, hour: Hour, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data = tmp_path / "var"
    store = SqliteStore(Settings(data_dir=data).db_path)
    store.incidents.upsert(hour.incidents)
    store.close()
    monkeypatch.setenv("FENGHUO_DATA_DIR", str(data))
    monkeypatch.setenv("FENGHUO_STORE", "sqlite")
    monkeypatch.setenv("FENGHUO_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("FENGHUO_INVENTORY", str(hour.root / "inventory.yaml"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _bundles(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_every_incident_pseudonymous(configured: Path, hour: Hour) -> None:
    out = configured / "all.jsonl"
    result = CliRunner().invoke(main, ["stix", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    bundles = _bundles(out)
    assert len(bundles) == len(hour.incidents)
    exported = set()
    options = ValidationOptions(version="2.1")
    for bundle in bundles:
        assert bundle["type"] == "bundle"
        assert validate_instance(bundle, options).is_valid
        objects = bundle["objects"]
        assert isinstance(objects, list)
        (incident,) = [o for o in objects if o["type"] == "incident"]
        exported.add(incident["external_references"][0]["external_id"])
        assert AMBER in incident["object_marking_refs"]  # the default level
        names = {o["name"] for o in objects if o["type"] == "identity"}
        assert not names & set(hour.tenants)
    assert exported == {i.id for i in hour.incidents}
    text = out.read_text(encoding="utf-8")
    tenant = hour.incidents[0].tenants[0]
    assert pseudonym(KEY.encode(), "tenant", tenant) in text  # the configured key's pseudonyms


def test_export_one_incident_granted_red(configured: Path, hour: Hour) -> None:
    incident = next(i for i in hour.incidents if i.actor_tenants)
    out = configured / "one.jsonl"
    args = ["stix", "export", "--incident", incident.id, "--out", str(out)]
    args += ["--tlp", "red", "--identities", "granted"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (bundle,) = _bundles(out)
    objects = bundle["objects"]
    assert isinstance(objects, list)
    names = {o["name"] for o in objects if o["type"] == "identity"}
    assert {*incident.tenants, *incident.actor_tenants} <= names
    (inc,) = [o for o in objects if o["type"] == "incident"]
    provider = inc["created_by_ref"]  # the provider identity is TLP:CLEAR, like the definitions
    marked = [
        o
        for o in objects
        if o["type"] not in ("marking-definition", "extension-definition") and o["id"] != provider
    ]
    assert len(marked) > 10
    assert all(o["object_marking_refs"] == [RED] for o in marked)


def test_export_since_selects_by_evidence_time(configured: Path, hour: Hour) -> None:
    latest = max(i.last_seen for i in hour.incidents)
    out = configured / "since.jsonl"
    since = latest.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = CliRunner().invoke(main, ["stix", "export", "--since", since, "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = {i.id for i in hour.incidents if i.last_seen >= latest.replace(microsecond=0)}
    exported = set()
    for bundle in _bundles(out):
        objects = bundle["objects"]
        assert isinstance(objects, list)
        (incident,) = [o for o in objects if o["type"] == "incident"]
        exported.add(incident["external_references"][0]["external_id"])
    assert exported == expected
    assert 0 < len(exported) < len(hour.incidents)


def test_export_refuses_unknown_incident_and_bad_time(configured: Path) -> None:
    out = configured / "x.jsonl"
    runner = CliRunner()
    missing = runner.invoke(main, ["stix", "export", "--incident", "nope", "--out", str(out)])
    assert missing.exit_code != 0
    assert "no incident nope" in str(missing.exception)
    assert not out.exists()
    naive = runner.invoke(
        main, ["stix", "export", "--since", "2026-01-05T10:00:00", "--out", str(out)]
    )
    assert naive.exit_code != 0
    both = runner.invoke(
        main, ["stix", "export", "--incident", "a", "--since", "2026-01-05T10:00:00Z", "--out", "o"]
    )
    assert both.exit_code == 2
