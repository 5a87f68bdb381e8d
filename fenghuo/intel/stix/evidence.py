"""The evidence SCOs an incident's alerts show in their details: flows and files.

`incident_objects(..., alerts=...)` passes the incident's alerts here; only alerts the incident
lists (`alert_ids`) count, two versions of one alert are folded with `merge_alerts` and the rest
is read in alert id order, so a given set of alerts yields the same SCOs in any order.

What the detectors' details become (read from the real details, then shown as the view may):

- `network-traffic`, `src_ref`/`dst_ref` to the address SCOs:
  - cross-tenant-flow, accepted flow (`initiator`, `responder`, `service` "6379/tcp", `bytes`,
    `packets`, `bytes_direction`): initiator -> responder, `dst_port` and protocol from the
    service; bytes and packets count for the side that sent them (`bytes_direction` names the
    actor tenant first when the initiator sent them, the victim first for the replies);
  - cross-tenant-flow, probing (`sources`, `targets`, `services`): one flow per target from the
    source when there is one (the details do not say which source probed which target, so with
    several each source gets a flow of its own), `dst_port` when a single service was probed;
  - the window is the alert's (`start` = first seen, `end` = last seen, `is_active` false).
  The details do not carry the initiator's (ephemeral) port, so `src_port` is absent (read from
  an `initiator_port` detail if a detector ever reports one) and stix2-validator warns 301
  ("should contain both src_port and dst_port") on every flow: the tests accept exactly that
  warning on `network-traffic` objects, rather than a made-up port.
- address SCOs for `source_ip` (cross-tenant-credential-use, cross-tenant-sharing,
  audit-logging-tampering): the calls' source; the details carry no destination or port, so no
  `network-traffic` is made up for them. co-residency-probing's details hold hosts, instance
  ids and counts only: no SCO.
- `file` (in its `directory`) for every absolute path: `exe` (vmm-child-process, host-tampering,
  cross-vm-access, vmm-seccomp-violation), the absolute arguments of `argv` (a loaded kernel
  module, a shell handed to ncat), `paths` (host-tampering file writes), a unix socket
  `address` (host-tampering bind), `path` (cross-vm-access: another VM's disk image) and `file`
  (container-escape). A process SCO whose pid the details name gets its `exe` as `image_ref`.
  No detector reports hashes today, so files carry names only.

Pseudonymity as everywhere else (`view.Masker`): addresses through `Masker.ip` (a hidden one
maps into the reserved ranges, the same SCO the incident's entities give), paths through the
incident's text rewrite (`Masker.path`: "/var/lib/libvirt/images/globex-db-2.qcow2" reads
".../vm-<12 hex>.qcow2"). SCO ids are stix2's, from the properties as shown.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import stix2

from fenghuo.intel.stix.view import Masker, Rewrite
from fenghuo.model.alert import Alert, merge_alerts
from fenghuo.model.incident import Incident


@dataclass(frozen=True)
class _Flow:
    """One flow of the details, with real addresses."""

    src: str | None
    dst: str | None
    port: int | None
    protocol: str | None
    start: dt.datetime
    end: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)  # src/dst_byte_count, src/dst_packets
    src_port: int | None = None


def incident_alerts(incident: Incident, alerts: Iterable[Alert]) -> list[Alert]:
    """The incident's own alerts among `alerts`, versions of one alert merged, by id."""
    wanted = set(incident.alert_ids)
    found: dict[str, Alert] = {}
    for alert in alerts:
        if alert.id in wanted:
            known = found.get(alert.id)
            found[alert.id] = alert if known is None else merge_alerts(known, alert)
    return [found[alert_id] for alert_id in sorted(found)]


def address_sco(value: str, marking: dict[str, Any]) -> Any:
    """An `ipv4-addr`/`ipv6-addr` SCO, or None for what is not an address."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return stix2.v21.IPv4Address(value=str(address), **marking)
    return stix2.v21.IPv6Address(value=str(address), **marking)


class Evidence:
    """The SCOs of the alerts' details as one view shows them (`scos`, in a fixed order), and
    the image file of each process they name (`images`: (host as shown, pid) -> file id)."""

    def __init__(
        self, masker: Masker, incident: Incident, alerts: Sequence[Alert], marking: dict[str, Any]
    ) -> None:
        self.masker = masker
        self.marking = marking
        self.scos: dict[str, Any] = {}
        self.images: dict[tuple[str, int], str] = {}
        tenants = {t for a in alerts for t in (a.tenant_id, a.actor_tenant_id)}
        self.rewrite: Rewrite = masker.rewriter(incident, tenants)
        for alert in alerts:
            self._alert(alert)

    def _add(self, sco: Any) -> str:
        self.scos.setdefault(sco.id, sco)
        return str(sco.id)

    def _alert(self, alert: Alert) -> None:
        details = alert.details
        source = details.get("source_ip")
        if isinstance(source, str):
            self.address(source)
        for flow in _flows(alert):
            self.traffic(flow)
        for path in _paths(details):
            self.file(path)
        exe, pid = details.get("exe"), details.get("pid")
        if alert.host_id and isinstance(exe, str) and isinstance(pid, int) and _is_int(pid):
            file_id = self.file(exe) if exe.startswith("/") else None
            if file_id is not None:
                self.images.setdefault((str(self.rewrite(alert.host_id)), pid), file_id)

    def address(self, value: str) -> str | None:
        sco = address_sco(self.masker.ip(value), self.marking)
        return None if sco is None else self._add(sco)

    def traffic(self, flow: _Flow) -> None:
        refs = {
            "src_ref": self.address(flow.src) if flow.src else None,
            "dst_ref": self.address(flow.dst) if flow.dst else None,
        }
        versions = {_ip_version(a) for a in (flow.src, flow.dst) if a} - {None}
        if not any(refs.values()) or len(versions) != 1:
            return
        properties: dict[str, Any] = {k: v for k, v in refs.items() if v}
        properties["protocols"] = [*versions, *([flow.protocol] if flow.protocol else [])]
        # Flow records report finished flows: the alert's window, over (`is_active` false).
        properties |= {"start": flow.start, "end": max(flow.start, flow.end), "is_active": False}
        ports = {"src_port": flow.src_port, "dst_port": flow.port}
        properties |= {k: v for k, v in ports.items() if v is not None}
        properties |= flow.counts
        self._add(stix2.v21.NetworkTraffic(**properties, **self.marking))

    def file(self, path: str) -> str | None:
        shown = self.masker.path(path, self.rewrite)
        directory, _, name = shown.rpartition("/")
        if not name:
            return None
        if not shown.startswith("/"):
            return self._add(stix2.v21.File(name=name, **self.marking))
        folder = self._add(stix2.v21.Directory(path=directory or "/", **self.marking))
        return self._add(stix2.v21.File(name=name, parent_directory_ref=folder, **self.marking))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ip_version(value: str) -> str | None:
    try:
        return f"ipv{ipaddress.ip_address(value).version}"
    except ValueError:
        return None


def _service(service: Any) -> tuple[int | None, str | None]:
    """ "6379/tcp" -> (6379, "tcp"); "icmp" -> (None, "icmp"); a protocol number: no name."""
    if not isinstance(service, str):
        return None, None
    port_text, _, name = service.rpartition("/")
    port = int(port_text) if port_text.isdigit() and 0 <= int(port_text) <= 65535 else None
    protocol = name.lower() if name.isalpha() else None
    return port, protocol


def _count(value: Any) -> int | None:
    return value if _is_int(value) and value >= 0 else None


def _flows(alert: Alert) -> list[_Flow]:
    details = alert.details
    start, end = alert.first_seen, alert.last_seen
    initiator, responder = details.get("initiator"), details.get("responder")
    if isinstance(initiator, str) and isinstance(responder, str):
        port, protocol = _service(details.get("service"))
        direction = details.get("bytes_direction")
        sender = ""  # who sent the bytes: the initiator ("src") or the responder ("dst")
        if direction == f"{alert.actor_tenant_id}->{alert.tenant_id}":
            sender = "src"
        elif direction == f"{alert.tenant_id}->{alert.actor_tenant_id}":
            sender = "dst"
        volume = {
            f"{sender}_byte_count": _count(details.get("bytes")),
            f"{sender}_packets": _count(details.get("packets")),
        }
        counts = {k: v for k, v in volume.items() if sender and v is not None}
        reported = details.get("initiator_port")  # not reported today (see the docstring)
        src_port = reported if isinstance(reported, int) and 0 <= reported <= 65535 else None
        return [_Flow(initiator, responder, port, protocol, start, end, counts, src_port)]
    sources = sorted(s for s in details.get("sources") or () if isinstance(s, str))
    targets = sorted(t for t in details.get("targets") or () if isinstance(t, str))
    if not targets:
        return []
    services = {_service(s) for s in details.get("services") or ()}
    port = next(iter(services))[0] if len(services) == 1 else None
    names = {name for _, name in services}
    protocol = next(iter(names)) if len(names) == 1 else None
    single = sources[0] if len(sources) == 1 else None
    flows = [_Flow(single, target, port, protocol, start, end) for target in targets]
    if single is None:
        flows += [_Flow(source, None, port, protocol, start, end) for source in sources]
    return flows


def _paths(details: dict[str, Any]) -> list[str]:
    """Every absolute path the details name, in a fixed order, once."""
    found: list[Any] = [details.get("exe"), details.get("path"), details.get("file")]
    found += list(details.get("paths") or ())
    argv = details.get("argv")
    if isinstance(argv, list):
        found += argv[1:]
    if details.get("port") is None:
        found.append(details.get("address"))  # a unix socket is a file
    paths = (p.strip() for p in found if isinstance(p, str))
    return list(dict.fromkeys(p for p in paths if p.startswith("/") and len(p) > 1))
