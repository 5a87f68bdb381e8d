"""How one feed shows an incident: its TLP level and what it may read of tenants.

Pseudonymity is decided once, here, before any STIX object is built: the incident document is
rewritten as the feed's reader may see it (`Masker.incident`), and the builder only ever reads the
rewritten copy, so no object, description, name, external reference or extension property can
carry a real identifier the reader may not see.

- `GRANTED`: everything as it is.
- `PSEUDONYMOUS` with `own_tenant`: a tenant's own team. Its own identifiers stay readable,
  every other tenant reads as the API's keyed-HMAC pseudonym (`Redactor.for_viewer`).
- `PSEUDONYMOUS` without `own_tenant` (a regulator): every tenant is hidden
  (`Redactor.for_outsider`). Tenants read `tenant-<12 hex>`, the same HMAC as the API's, so a
  regulator sees the same name in every collection, export and report.

Text is the redactor's (`Redactor.text`): another tenant's id or name is hidden also joined to
other text ("globex->acme", "role/globex-app-instance-role"), the viewer's own identifiers are
kept (acme's VM "acme-globex-bridge" in acme's collection), other identifiers are replaced whole.
What STIX needs beyond it is done here: addresses, resources, disk image paths.

Addresses: a hidden IP address must still be a valid address in an `ipv4-addr`/`ipv6-addr` SCO,
so it is mapped deterministically (HMAC with the pseudonym key) into a reserved range: IPv4 into
198.18.0.0/15 (RFC 2544 benchmarking, never routed), IPv6 into 2001:db8::/32 (RFC 3849,
documentation). The mapping is applied to free text as well, so a description and its SCO agree.
An address is hidden when it belongs to a tenant other than the reader's (a VM's address or a
tenant CIDR in the inventory); without an inventory, every private address is hidden. Addresses
outside every tenant (the internet, the provider's hosts) stay as they are. Two hidden addresses
may map to the same one (2^17 slots): acceptable for evidence, never used as a key.

File paths from alerts' details (`Masker.path`) go through the same rewrite as the incident's
text, so a disk image "/var/lib/libvirt/images/globex-db-2.qcow2" reads with the VM's pseudonym
as its file name; a hidden tenant's VM disk the rewrite leaves unchanged (a path not naming the
VM) gets a pseudonymous file name from the inventory's disk list.

Resources (snapshots, images, ARNs) carry tenants' account ids and names in many shapes; a
regulator reads each as `resource-<12 hex>`, and a tenant's team reads a resource as it is only
when the redaction leaves it unchanged and no part of it names another tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from fenghuo.api.pseudonyms import Redactor, pseudonym
from fenghuo.intel.collections import IdentityPolicy, Tlp
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.incident import Incident

_IPV4_HIDDEN = ipaddress.IPv4Network("198.18.0.0/15")
_IPV6_HIDDEN = ipaddress.IPv6Network("2001:db8::/32")
# An IPv4 literal not part of a longer dotted or alphanumeric token.
_IPV4_TEXT = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")

Rewrite = Callable[[Any], Any]


@dataclass(frozen=True)
class FeedView:
    """How one feed (a TAXII collection or an export) shows an incident."""

    tlp: Tlp
    identities: IdentityPolicy
    own_tenant: str | None  # a tenant's own team: own identifiers readable, others pseudonymous
    pseudonym_key: bytes  # settings.pseudonym_key: the same HMAC as the API's pseudonyms
    inventory: InventoryIndex | None
    provider_name: str = "Fenghuo demo cloud provider"

    @property
    def pseudonymous(self) -> bool:
        return self.identities is IdentityPolicy.PSEUDONYMOUS


class Masker:
    """The identifiers of one incident as one view shows them."""

    def __init__(self, view: FeedView) -> None:
        self.view = view
        self.own = view.own_tenant if view.pseudonymous else None
        if not view.pseudonymous:
            self.redactor = Redactor.none()
        elif view.own_tenant is None:
            self.redactor = Redactor.for_outsider(view.pseudonym_key, view.inventory)
        else:
            self.redactor = Redactor.for_viewer(view.pseudonym_key, view.own_tenant, view.inventory)
        self._other_tenant_tokens: set[str] = set()
        if view.pseudonymous and view.inventory is not None:
            for tenant in view.inventory.tenants.values():
                if tenant.id != self.own:
                    self._other_tenant_tokens |= _tokens(tenant.id) | _tokens(tenant.name)

    # --- single identifiers ---------------------------------------------------------------

    def tenant(self, tenant_id: str) -> str:
        return self.redactor.tenant(tenant_id) or tenant_id

    def ip(self, value: str) -> str:
        """The address as the reader sees it: itself, or its image in the reserved range."""
        if not self.view.pseudonymous:
            return value
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return self.redactor.text(value)
        if not self._ip_hidden(value, address):
            return value
        digest = hmac.new(self.view.pseudonym_key, f"ip\x00{value}".encode(), hashlib.sha256)
        number = int.from_bytes(digest.digest(), "big")
        if isinstance(address, ipaddress.IPv4Address):
            offset = number % _IPV4_HIDDEN.num_addresses
            return str(_IPV4_HIDDEN.network_address + offset)
        return str(_IPV6_HIDDEN.network_address + number % _IPV6_HIDDEN.num_addresses)

    def _ip_hidden(
        self, value: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address
    ) -> bool:
        if self.redactor.text(value) != value:
            return True
        inventory = self.view.inventory
        if inventory is None:
            return address.is_private
        owner = inventory.owner_of_ip(value)
        return owner is not None and owner[0] == "tenant" and owner[1] != self.own

    def resource(self, value: str) -> str:
        if not self.view.pseudonymous:
            return value
        readable = (
            self.own is not None
            and self.redactor.text(value) == value
            and _tokens(value).isdisjoint(self._other_tenant_tokens)
        )
        return value if readable else pseudonym(self.view.pseudonym_key, "resource", value)

    # --- the whole incident ---------------------------------------------------------------

    def incident(self, incident: Incident) -> Incident:
        """The incident with every identifier the reader may not see replaced, in every field
        (titles, summaries, entities, timeline, graph, details, blast radius)."""
        if not self.view.pseudonymous:
            return incident
        masked = self.rewriter(incident)(msgspec.to_builtins(incident))
        return msgspec.convert(masked, Incident)

    def rewriter(self, incident: Incident, tenants: Iterable[str | None] = ()) -> Rewrite:
        """The rewrite of any JSON-shaped value about the incident (its document, an alert's
        detail), the same `incident` applies; `tenants`: more tenant ids to hide (an alert's)."""
        if not self.view.pseudonymous:
            return lambda value: value
        resources = {*incident.blast_radius.resources}
        resources |= {e.id for e in incident.entities if e.type == "resource"}
        hidden = {r: self.resource(r) for r in resources if self.resource(r) != r}
        # Other tenants joined to other text ("globex->acme", "globex-app-instance-role") are
        # the redactor's: it hides their ids and names as tokens, except inside the viewer's
        # own identifiers (acme's VM "acme-globex-bridge"). Its `document` learns the tenants a
        # document names; the incident's and its alerts' are taught first, so an alert's
        # details (which name none) are rewritten with the same mapping.
        named = {*incident.tenants, *incident.actor_tenants, *incident.blast_radius.tenants}
        self.redactor.document({"tenants": sorted(named | {t for t in tenants if t})})

        def rewrite(value: Any) -> Any:
            return self.redactor.document(_walk_strings(value, lambda s: self._text(s, hidden)))

        return rewrite

    def path(self, value: str, rewrite: Rewrite) -> str:
        """A file path as the reader sees it: rewritten like text (a VM's name in a disk image
        path reads as its pseudonym), and a hidden tenant's VM disk whose path names nothing
        the rewrite knows gets a pseudonymous file name."""
        shown = str(rewrite(value))
        if not self.view.pseudonymous or shown != value or self.view.inventory is None:
            return shown
        record = self.view.inventory.vm_by_disk(value)
        if record is None or record.tenant == self.own:
            return shown
        directory, slash, _ = value.rpartition("/")
        return f"{directory}{slash}{pseudonym(self.view.pseudonym_key, 'disk', value)}"

    def _text(self, value: str, resources: dict[str, str]) -> str:
        for real in sorted(resources, key=len, reverse=True):
            if real in value:
                value = value.replace(real, resources[real])
        return _IPV4_TEXT.sub(lambda m: self.ip(m.group(0)), value)


def _walk_strings(value: Any, rewrite: Any) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, dict):
        return {rewrite(str(k)): _walk_strings(v, rewrite) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk_strings(v, rewrite) for v in value]
    return value


def _tokens(text: str | None) -> set[str]:
    return {t for t in re.split(r"[^0-9a-z]+", (text or "").casefold()) if t}
