"""End to end over the real Stratus Red Team CloudTrail samples (../shared/samples/cloudtrail/):
every file whole through the real parser, normaliser and demo inventory, replayed through every
registered detector (`fenghuo replay`'s `run_replay`; the `fenghuo replay` CLI once over all
the shared samples).

The expected alerts are not copied from the detectors' output. They are derived here from the
raw records (eventName, requestParameters, userIdentity, sourceIPAddress) and the inventory
YAML, read with `yaml` rather than through `fenghuo.inventory`:

- cross-tenant-sharing: a successful call that adds an account or everyone to a snapshot's,
  image's or DB snapshot's permission, to a role's trust policy or to a Lambda function's
  resource policy, for a resource of a tenant's account. Everyone is critical; another tenant's
  account or an account no tenant owns is high; the tenant's own accounts are nothing.
- cross-tenant-credential-use: a VM's instance role session (its session name is the
  instance id the inventory gives the VM) used from an address that is not the VM's own:
  high from outside every tenant's network, critical from another tenant's.
- audit-logging-tampering: a successful CloudTrail StopLogging or DeleteTrail is high, for the
  tenant owning the account the call landed in (the caller's tenant as actor when another).

Every other record is either benign (the Stratus warm-up and polling calls) or an attack step
these detectors are not about (the SSM SendCommand that reads the credentials on the
instance): benign records must raise no alert of medium or above and no alert of these
detectors at all; out-of-scope steps none of these detectors' alerts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import subprocess
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from fenghuo.demo.samples import demo_inventory_path, sample_files
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.inventory import InventoryStore
from fenghuo.model import ApiCall
from fenghuo.model.alert import Alert, Severity, decode_alert
from fenghuo.model.ids import FENGHUO_NAMESPACE
from fenghuo.streaming.replay_files import InputSpec, run_replay
from tests.detectors.cloudtrail_history import benign_records

Record = dict[str, Any]

SHARING = "cross-tenant-sharing"
CREDENTIALS = "cross-tenant-credential-use"
TAMPERING = "audit-logging-tampering"
SCOPE = frozenset({SHARING, CREDENTIALS, TAMPERING})

# Every Stratus technique among the samples and which of these detectors it is about (None:
# none). A new sample file fails the test until it is listed here.
TECHNIQUES: dict[str, str | None] = {
    "credential-access.ec2-steal-instance-credentials": CREDENTIALS,
    "defense-evasion.cloudtrail-stop": TAMPERING,
    "exfiltration.ec2-share-ami": SHARING,
    "exfiltration.ec2-share-ebs-snapshot": SHARING,
    "exfiltration.rds-share-snapshot": SHARING,
    "persistence.iam-backdoor-role": SHARING,
    "persistence.lambda-backdoor-function": SHARING,
}

# Attack steps that are none of sharing, credential misuse or audit tampering (these detectors
# must stay silent on them; whether another detector should alert is not this test's question).
OUT_OF_SCOPE_STEPS = {
    "SendCommand": "the SSM shell command that reads the instance's credentials from IMDS",
}


# --- the inventory, read independently of fenghuo.inventory ----------------------------------


@dataclass(frozen=True)
class Vm:
    name: str
    host: str
    tenant: str
    ips: frozenset[str]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Inventory:
    account_tenant: dict[str, str]
    tenant_networks: dict[str, tuple[Network, ...]]
    vms_by_instance: dict[str, Vm]

    def tenant_of_ip(self, ip: str) -> str | None:
        address = ipaddress.ip_address(ip)
        for tenant, networks in self.tenant_networks.items():
            if any(address in net for net in networks):
                return tenant
        return None


@cache
def inventory() -> Inventory:
    doc = yaml.safe_load(demo_inventory_path().read_text(encoding="utf-8"))
    accounts = {str(a): t["id"] for t in doc["tenants"] for a in t.get("accounts", ())}
    networks = {
        t["id"]: tuple(ipaddress.ip_network(c) for c in t.get("cidrs", ())) for t in doc["tenants"]
    }
    vms = {
        vm["instance_id"]: Vm(vm["name"], host["id"], vm["tenant"], frozenset(vm.get("ips", ())))
        for host in doc.get("hosts", ())
        for vm in host.get("vms", ())
        if vm.get("instance_id")
    }
    return Inventory(accounts, networks, vms)


# --- what the raw records call for -------------------------------------------------------------


@dataclass
class Expected:
    detector: str
    severity: Severity
    tenant_id: str
    actor_tenant_id: str | None
    vm_id: str | None
    entities: set[tuple[str, str]]  # each must be among the alert's entities
    summary_names: list[str]  # each must appear in the summary
    records: list[Record] = field(default_factory=list)  # the evidence

    @property
    def evidence(self) -> set[str]:
        return {event_id_of(r) for r in self.records}

    def describe(self) -> str:
        names = ", ".join(sorted({r["eventName"] for r in self.records}))
        return f"{self.detector} {self.severity} tenant={self.tenant_id} on {names}"


def event_id_of(record: Record) -> str:
    """The normalised event's id as the CloudTrail parser documents it:
    event_id("cloudtrail", recipientAccountId, eventID), a uuid5 in Fenghuo's namespace."""
    name = "\x1f".join(("event", "cloudtrail", record["recipientAccountId"], record["eventID"]))
    return str(uuid.uuid5(FENGHUO_NAMESPACE, name))


def _ip(value: object) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def _account_of_principal(principal: str) -> str | None:
    """`123456789012` or `arn:aws:iam::123456789012:root|user/..|role/..` -> the account."""
    if principal.isdigit() and len(principal) == 12:
        return principal
    parts = principal.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[4].isdigit():
        return parts[4]
    return None


def _listed(value: object) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _permission_items(params: Record, attribute: str) -> list[str]:
    """`{attribute: {add: {items: [{userId}|{group: all}]}}}` -> accounts, `*` for everyone."""
    items = ((params.get(attribute) or {}).get("add") or {}).get("items") or []
    return ["*" if item.get("group") == "all" else item["userId"] for item in items]


def _trust_policy_principals(params: Record) -> list[str]:
    policy = json.loads(params["policyDocument"])
    statements = policy["Statement"]
    out: list[str] = []
    for st in statements if isinstance(statements, list) else [statements]:
        if st.get("Effect") != "Allow":
            continue
        assert "Condition" not in st, "the oracle does not model conditional grants"
        principal = st.get("Principal")
        if principal == "*":
            out.append("*")
        elif isinstance(principal, dict):
            for aws in _listed(principal.get("AWS")):
                out.append("*" if aws == "*" else _account_of_principal(aws) or aws)
    return out


def shared(record: Record) -> tuple[str, list[str]] | None:
    """(resource entity `type:id`, grantees: accounts or `*`) of a sharing call, else None."""
    name = record["eventName"]
    params = record.get("requestParameters") or {}
    if name == "ModifySnapshotAttribute":
        return f"ec2:snapshot:{params['snapshotId']}", _permission_items(
            params, "createVolumePermission"
        )
    if name == "ModifyImageAttribute":
        return f"ec2:image:{params['imageId']}", _permission_items(params, "launchPermission")
    if name == "ModifyDBSnapshotAttribute":
        if params.get("attributeName") != "restore":
            return None
        grantees = ["*" if v == "all" else v for v in _listed(params.get("valuesToAdd"))]
        return f"rds:db-snapshot:{params['dBSnapshotIdentifier']}", grantees
    if name == "UpdateAssumeRolePolicy":
        return f"iam:role:{params['roleName']}", _trust_policy_principals(params)
    if name.startswith("AddPermission") and record["eventSource"] == "lambda.amazonaws.com":
        principal = str(params["principal"])
        grantee = "*" if principal == "*" else _account_of_principal(principal)
        return f"lambda:function:{params['functionName']}", [grantee] if grantee else []
    return None


def sharing_alerts(record: Record, inv: Inventory) -> list[Expected]:
    found = shared(record)
    if found is None or "errorCode" in record:
        return []
    resource, grantees = found
    owner_account = record["recipientAccountId"]
    owner = inv.account_tenant.get(owner_account)
    if owner is None:
        return []  # not a tenant's resource
    caller_tenant = inv.account_tenant.get(record["userIdentity"].get("accountId", ""))
    out = []
    for grantee in grantees:
        entities = {("resource", resource), ("account", owner_account), ("tenant", owner)}
        if ip := _ip(record.get("sourceIPAddress")):
            entities.add(("ip", ip))
        resource_id = resource.split(":", 2)[2]
        if grantee == "*":
            severity, names = Severity.CRITICAL, [resource_id, "with everyone"]
        else:
            grantee_tenant = inv.account_tenant.get(grantee)
            if grantee_tenant == owner:
                continue  # within the tenant
            severity, names = Severity.HIGH, [resource_id, f"account {grantee}"]
            entities.add(("account", grantee))
            if grantee_tenant is not None:
                entities.add(("tenant", grantee_tenant))
                names.append(f"of tenant {grantee_tenant}")
            else:
                names.append(f"external account {grantee}")
        out.append(
            Expected(
                SHARING,
                severity,
                owner,
                caller_tenant if caller_tenant != owner else None,
                None,
                entities,
                names,
                [record],
            )
        )
    return out


# CloudTrail calls that stop or delete a trail (the only tampering the samples hold), and the
# verb the summary uses for each.
TRAIL_STOPS = {"StopLogging": "stopped logging of", "DeleteTrail": "deleted"}


def tampering_alerts(record: Record, inv: Inventory) -> list[Expected]:
    """A successful StopLogging or DeleteTrail of a trail in a tenant's account."""
    verb = TRAIL_STOPS.get(record["eventName"])
    if verb is None or record["eventSource"] != "cloudtrail.amazonaws.com":
        return []
    if "errorCode" in record:
        return []  # a refused attempt is low at most
    account = record["recipientAccountId"]
    owner = inv.account_tenant.get(account)
    if owner is None:
        return []
    trail = str((record.get("requestParameters") or {})["name"])
    name = trail.rpartition("trail/")[2] if trail.startswith("arn:") else trail
    entity = trail if trail.startswith("arn:") else f"cloudtrail:trail:{trail}"
    entities = {("resource", entity), ("account", account), ("tenant", owner)}
    if ip := _ip(record.get("sourceIPAddress")):
        entities.add(("ip", ip))
    caller = inv.account_tenant.get(record["userIdentity"].get("accountId", ""))
    return [
        Expected(
            TAMPERING,
            Severity.HIGH,
            owner,
            caller if caller != owner else None,
            None,
            entities,
            [f"{verb} CloudTrail trail {name}", f"account {account} of tenant {owner}"],
            [record],
        )
    ]


def credential_alert(record: Record, inv: Inventory) -> tuple[tuple[str, str], Expected] | None:
    """((instance, source address), the alert) when a VM's instance role session is used from
    an address that is not the VM's own."""
    identity = record["userIdentity"]
    ip = _ip(record.get("sourceIPAddress"))
    if ip is None or "invokedBy" in identity or identity.get("type") != "AssumedRole":
        return None
    session = str(identity.get("principalId", "")).partition(":")[2]
    vm = inv.vms_by_instance.get(session)
    owner = inv.account_tenant.get(identity.get("accountId", ""))
    if vm is None or owner is None or ip in vm.ips:
        return None
    source_tenant = inv.tenant_of_ip(ip)
    if source_tenant == owner:
        pytest.fail(f"{record['eventID']}: the oracle does not model same-tenant addresses")
    severity = Severity.HIGH if source_tenant is None else Severity.CRITICAL
    role = identity["sessionContext"]["sessionIssuer"]["userName"]
    expected = Expected(
        CREDENTIALS,
        severity,
        owner,
        source_tenant,
        vm.name,
        {
            ("ip", ip),
            ("account", identity["accountId"]),
            ("tenant", owner),
            ("vm", vm.name),
            ("host", vm.host),
        },
        [vm.name, f"role {role}/{session}", ip],
    )
    return (session, ip), expected


@dataclass
class Oracle:
    expected: list[Expected]
    benign: list[Record]
    out_of_scope: list[Record]


def oracle(records: Sequence[Record]) -> Oracle:
    inv = inventory()
    expected: list[Expected] = []
    by_credential: dict[tuple[str, str], Expected] = {}
    benign, out_of_scope = [], []
    for record in records:
        found = sharing_alerts(record, inv) + tampering_alerts(record, inv)
        expected += found
        if (hit := credential_alert(record, inv)) is not None:
            key, alert = hit
            by_credential.setdefault(key, alert).records.append(record)
            found.append(alert)
        if found:
            continue
        if record["eventName"] in OUT_OF_SCOPE_STEPS:
            out_of_scope.append(record)
        else:
            benign.append(record)
    for alert in by_credential.values():
        times = [_time(r) for r in alert.records]
        # One alert per credential and address within the detector's 30-minute dedup window.
        assert max(times) - min(times) < dt.timedelta(minutes=30), "the oracle needs windows"
    return Oracle([*expected, *by_credential.values()], benign, out_of_scope)


def _time(record: Record) -> dt.datetime:
    return dt.datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))


# --- running the real thing --------------------------------------------------------------------


def stratus_files(samples: Path) -> dict[str, Path]:
    files = sorted((samples / "cloudtrail").glob("stratus-aws.*.json"))
    return {p.name.removeprefix("stratus-aws.").removesuffix(".json"): p for p in files}


def load(path: Path) -> list[Record]:
    records = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(records, list)
    return records


def replay_cloudtrail(paths: Iterable[Path], tmp_path: Path) -> list[Alert]:
    specs = [InputSpec("cloudtrail", p) for p in paths]
    outcome = run_replay(demo_inventory_path(), specs, tmp_path / "alerts.jsonl")
    assert outcome.record_errors == []
    assert outcome.result.failures == {}
    return outcome.result.alerts


def write_records(records: Sequence[Record], path: Path) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def match(expected: Sequence[Expected], alerts: Sequence[Alert]) -> list[str]:
    """Problems (empty when none): every expected alert met by its own alert, field by field;
    no alert of these detectors left over."""
    left = [a for a in alerts if a.detector in SCOPE]
    problems = []
    for want in expected:
        hit = next(
            (a for a in left if a.detector == want.detector and set(a.evidence) == want.evidence),
            None,
        )
        if hit is None:
            problems.append(f"missing: {want.describe()}")
            continue
        left.remove(hit)
        got = (hit.severity, hit.tenant_id, hit.actor_tenant_id, hit.vm_id)
        wanted = (want.severity, want.tenant_id, want.actor_tenant_id, want.vm_id)
        if got != wanted:
            problems.append(f"{want.describe()}: (severity, tenant, actor, vm) {got} != {wanted}")
        entities = {(e.type, e.id) for e in hit.entities}
        if missing := want.entities - entities:
            problems.append(f"{want.describe()}: entities lack {sorted(missing)}")
        if len(hit.entities) != len(entities):
            problems.append(f"{want.describe()}: duplicate entities {hit.entities}")
        if absent := [n for n in want.summary_names if n not in hit.summary]:
            problems.append(f"{want.describe()}: summary {hit.summary!r} does not name {absent}")
        times = sorted(_time(r) for r in want.records)
        if (hit.first_seen, hit.last_seen) != (times[0], times[-1]):
            problems.append(f"{want.describe()}: seen {hit.first_seen}..{hit.last_seen}")
        if hit.evidence_count != len(want.records):
            problems.append(f"{want.describe()}: evidence_count {hit.evidence_count}")
    problems += [f"unexpected: {a.detector} {a.severity} {a.summary}" for a in left]
    return problems


# --- the tests ---------------------------------------------------------------------------------


def test_every_technique_is_known(samples: Path) -> None:
    assert sorted(stratus_files(samples)) == sorted(TECHNIQUES)


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_events_are_the_records(samples: Path, technique: str) -> None:
    """Each raw record becomes one event with the id evidence is checked against."""
    path = stratus_files(samples)[technique]
    records = load(path)
    normaliser = Normaliser(InventoryStore(demo_inventory_path()))
    with path.open(encoding="utf-8") as handle:
        events = list(normaliser.stream("cloudtrail", raw_lines(str(path), handle)))
    assert not [e for e in events if isinstance(e, RecordError)]
    calls = [e for e in events if isinstance(e, ApiCall)]
    assert len(calls) == len(events) == len(records)
    got = {(c.raw.record_id, c.action, c.id) for c in calls}
    assert got == {(r["eventID"], r["eventName"], event_id_of(r)) for r in records}


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_sample_raises_exactly_the_expected_alerts(
    samples: Path, technique: str, tmp_path: Path
) -> None:
    path = stratus_files(samples)[technique]
    records = load(path)
    want = oracle(records)
    about = TECHNIQUES[technique]
    # The oracle is not vacuous: it expects an alert of the technique's detector, and only of it.
    assert {e.detector for e in want.expected} == ({about} if about else set())

    alerts = replay_cloudtrail([path], tmp_path)

    assert match(want.expected, alerts) == []
    benign = {event_id_of(r) for r in want.benign}
    out_of_scope = {event_id_of(r) for r in want.out_of_scope}
    for alert in alerts:
        if alert.detector not in SCOPE and alert.severity.at_least(Severity.MEDIUM):
            # Another detector may alert on an attack step, never on a benign record.
            assert not set(alert.evidence) & benign, alert.summary
    assert not [a for a in alerts if a.detector in SCOPE and set(a.evidence) & out_of_scope]


def test_the_stolen_credentials_are_told_from_the_stratus_users_own_calls(samples: Path) -> None:
    """The steal-instance-credentials file: only the instance role session's calls from the
    attacker's address are evidence; the IAM user's calls from that same address are not."""
    records = load(stratus_files(samples)["credential-access.ec2-steal-instance-credentials"])
    (alert,) = oracle(records).expected
    stolen = [r for r in records if r["userIdentity"]["type"] == "AssumedRole"]
    assert alert.records == stolen
    assert {r["eventName"] for r in stolen} == {"GetCallerIdentity", "DescribeInstances"}
    attacker = {r["sourceIPAddress"] for r in stolen}
    users = [r for r in records if r["userIdentity"]["type"] == "IAMUser"]
    assert users
    assert {r["sourceIPAddress"] for r in users} == attacker


def test_benign_records_alone_raise_nothing(samples: Path, tmp_path: Path) -> None:
    """The warm-up and polling calls of every Stratus file, replayed on their own."""
    benign = [r for p in stratus_files(samples).values() for r in oracle(load(p)).benign]
    names = {r["eventName"] for r in benign}
    assert names == {"DescribeInstanceInformation", "GetCommandInvocation"}
    alerts = replay_cloudtrail([write_records(benign, tmp_path / "benign.json")], tmp_path)
    assert [a.summary for a in alerts if a.detector in SCOPE] == []
    assert [a.summary for a in alerts if a.severity.at_least(Severity.MEDIUM)] == []


def test_benign_tenant_history_raises_nothing(tmp_path: Path) -> None:
    """Non-Stratus benign CloudTrail: six hours of the demo tenants' everyday calls (including
    umbrella's sanctioned reads of a bucket of peered globex)."""
    records = benign_records(hours=6)
    want = oracle(records)
    assert want.expected == []
    assert len(want.benign) == len(records)
    alerts = replay_cloudtrail([write_records(records, tmp_path / "history.json")], tmp_path)
    assert [a.summary for a in alerts if a.detector in SCOPE] == []
    assert [a.summary for a in alerts if a.severity.at_least(Severity.MEDIUM)] == []


def test_fenghuo_replay_over_all_samples(samples: Path, tmp_path: Path) -> None:
    """The CLI once over every shared sample of every format: the sharing, credential and
    tampering alerts are the Stratus files' expected ones, no more; nothing of medium or above
    rests on a benign Stratus record."""
    inputs = []
    for sample_set, path in sample_files(samples):
        host = f"@{sample_set.host_id}" if sample_set.host_id else ""
        inputs += ["--input", f"{sample_set.format}{host}:{path}"]
    out = tmp_path / "alerts.jsonl"
    exe = Path(sys.executable).with_name("fenghuo")
    args = ["replay", "--inventory", str(demo_inventory_path()), *inputs, "--out", str(out)]
    result = subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    alerts = [decode_alert(line) for line in out.read_bytes().splitlines()]

    wants = [oracle(load(p)) for p in stratus_files(samples).values()]
    assert match([e for w in wants for e in w.expected], alerts) == []
    benign = {event_id_of(r) for w in wants for r in w.benign}
    for alert in alerts:
        if alert.severity.at_least(Severity.MEDIUM):
            assert not set(alert.evidence) & benign, alert.summary
