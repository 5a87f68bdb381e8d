"""Other tenants by pseudonym: what a `tenant_viewer` sees of tenants that are not its own.

A pseudonym is a keyed HMAC of the identifier (`settings.pseudonym_key`), so it is stable (the
same tenant reads the same everywhere and across requests, and a viewer can correlate two of its
alerts that involve the same neighbour) but cannot be reversed or recomputed without the key.

Redaction covers every identifier that names another tenant or its property, taken from the
inventory: tenant ids and display names, cloud accounts, VPCs, VM names, UUIDs, instance ids and
addresses, container ids and names. It runs over the whole response document (titles, summaries,
details, graph nodes, timelines), matching whole identifiers only, so text written by a detector
("acme VM acme-web-1 ...") is covered too. A tenant id found in a document's tenant fields but not
in the inventory is pseudonymised as well. Provider-owned names (hosts, shared services) and
parties outside the cloud (external accounts) are not tenants and stay as they are.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Any

from fenghuo.inventory.index import InventoryIndex

# Characters that continue an identifier: a match must not be part of a longer one.
_IDENT = r"A-Za-z0-9_\-"
_TENANT_FIELDS = ("tenant_id", "actor_tenant_id")
_TENANT_LISTS = ("tenants", "actor_tenants")


def pseudonym(key: bytes, kind: str, value: str) -> str:
    """`<kind>-<12 hex>`: stable per key, kind and value."""
    digest = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:12]}"


class Redactor:
    """Rewrites documents for one viewer. `Redactor.none()` leaves everything as it is (roles
    that see every tenant)."""

    def __init__(self, key: bytes, own_tenant: str | None, inventory: InventoryIndex | None):
        self.key = key
        self.own_tenant = own_tenant
        self.active = own_tenant is not None
        self._names: dict[str, str] = {}
        self._tenant_pseudonyms: dict[str, str] = {}
        self._tenant_tokens: set[str] = set()  # search tokens that name another tenant
        self._own: set[str] = set()  # the viewer's own identifiers, casefolded
        if self.active and inventory is not None:
            self._learn_inventory(inventory)
        self._compile()

    @classmethod
    def none(cls) -> Redactor:
        return cls(b"", None, None)

    @classmethod
    def for_viewer(cls, key: bytes, own_tenant: str, inventory: InventoryIndex | None) -> Redactor:
        """A viewer's redactor, per request. The mapping (an HMAC per identifier of the
        inventory, and its regex) is built once per key, tenant and inventory version and
        shared; a request copies it only if a document names a tenant the inventory lacks."""
        return copy.copy(_prototype(key, own_tenant, inventory))

    # --- the mapping -----------------------------------------------------------------------

    def _hide(self, kind: str, value: str | None) -> None:
        if value and value not in self._names:
            self._names[value] = pseudonym(self.key, kind, value)

    def _learn_inventory(self, inventory: InventoryIndex) -> None:
        for tenant in inventory.tenants.values():
            if tenant.id == self.own_tenant:
                continue
            self._hide("tenant", tenant.id)
            self._tenant_tokens |= _tokens(tenant.id)
            self._tenant_pseudonyms[pseudonym(self.key, "tenant", tenant.id)] = tenant.id
            if tenant.name and tenant.name != tenant.id:
                self._names[tenant.name] = pseudonym(self.key, "tenant", tenant.id)
            for account in tenant.accounts:
                self._hide("account", account)
            for vpc in tenant.vpcs:
                self._hide("vpc", vpc)
        for host in inventory.hosts.values():
            for vm in host.vms:
                if vm.tenant == self.own_tenant:
                    continue
                self._hide("vm", vm.name)
                self._hide("vm", vm.uuid)
                self._hide("vm", vm.instance_id)
                for ip in vm.ips:
                    self._hide("ip", str(ip))
                for interface in vm.interfaces:
                    self._hide("eni", interface)
            for container in host.containers:
                # Not the name: container names are short labels ("api", "web") that tenants
                # share, and hiding them would rewrite ordinary words and the viewer's own.
                if container.tenant != self.own_tenant:
                    self._hide("container", container.id)
        # An identifier the viewer's own property also uses is the viewer's to see.
        own = _own_identifiers(inventory, self.own_tenant)
        for name in own:
            self._names.pop(name, None)
        self._own = {name.casefold() for name in own}

    def _compile(self) -> None:
        if not self._names:
            self._pattern: re.Pattern[str] | None = None
            return
        alternatives = "|".join(re.escape(n) for n in sorted(self._names, key=len, reverse=True))
        self._pattern = re.compile(f"(?<![{_IDENT}])(?:{alternatives})(?![{_IDENT}])")

    def _learn_tenants(self, tenants: Iterable[str | None]) -> None:
        added = False
        for tenant in tenants:
            if tenant and tenant != self.own_tenant and tenant not in self._names:
                if not added:  # copy on write: the mapping may be shared (`for_viewer`)
                    self._names = dict(self._names)
                    self._tenant_tokens = set(self._tenant_tokens)
                self._hide("tenant", tenant)
                self._tenant_tokens |= _tokens(tenant)
                added = True
        if added:
            self._compile()

    # --- applying it -----------------------------------------------------------------------

    def tenant(self, tenant_id: str | None) -> str | None:
        """One tenant id as this viewer sees it."""
        if not self.active or tenant_id is None or tenant_id == self.own_tenant:
            return tenant_id
        return self._names.get(tenant_id) or pseudonym(self.key, "tenant", tenant_id)

    def text(self, value: str) -> str:
        if not self.active or self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._names[m.group(0)], value)

    def document(self, doc: Any) -> Any:
        """A JSON-shaped value (dicts, lists, strings, numbers) with other tenants replaced."""
        if not self.active:
            return doc
        self._learn_tenants(_tenant_values(doc))
        return self._walk(doc)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v) for v in value]
        return value

    def real_tenant(self, name: str) -> str | None:
        """The tenant a viewer means by `name` in a filter: its own id, or a pseudonym it was
        shown. A real id of another tenant means nothing to a viewer (None): answering it
        would confirm that the tenant exists."""
        if not self.active or name == self.own_tenant:
            return name
        return self._tenant_pseudonyms.get(name)

    def search_text(self, text: str) -> str | None:
        """Full-text search as the viewer sees the documents: a pseudonym it was shown searches
        for the real identifier; a search naming another tenant, even as one token of a longer
        word (the index splits "globex-db-2" into tokens), matches nothing (None), so a search
        cannot probe which neighbours appear in the viewer's alerts."""
        if not self.active:
            return text
        hidden = {real.casefold() for real in self._names}
        # Every token of a hidden identifier, not only tenant names: the index splits
        # "10.2.26.12" and "globex-web-1", and a search for "26 12" or "web" must not confirm
        # what a pseudonym in the viewer's alert stands for (over-blocks common tokens: safe).
        hidden_tokens = self._tenant_tokens.union(*(_tokens(real) for real in self._names))
        # A tenant's pseudonym also stands for its display name: search for the id.
        reverse = {p: real for real, p in self._names.items()} | self._tenant_pseudonyms
        words = []
        for word in text.split():
            folded = word.casefold()
            if folded in reverse:
                words.append(reverse[folded])
                continue
            if folded in self._own:
                # The store matches a word of several tokens as a phrase ("acme web 1" in
                # order), so the viewer's own name cannot match a neighbour's "globex-web-1".
                words.append(word)
                continue
            if folded in hidden or not hidden_tokens.isdisjoint(_tokens(folded)):
                return None
            words.append(word)
        return " ".join(words)


@functools.lru_cache(maxsize=256)
def _prototype(key: bytes, own_tenant: str, inventory: InventoryIndex | None) -> Redactor:
    # The inventory index is immutable and replaced on reload, so its identity is its version.
    return Redactor(key, own_tenant, inventory)


def _own_identifiers(inventory: InventoryIndex, tenant: str | None) -> set[str]:
    own: set[str] = set()
    if tenant in inventory.tenants:
        record = inventory.tenants[tenant]
        own |= {record.id, record.name, *record.accounts, *record.vpcs}
    for host in inventory.hosts.values():
        for vm in host.vms:
            if vm.tenant == tenant:
                own |= {vm.name, vm.uuid or "", vm.instance_id or "", *map(str, vm.ips)}
                own |= set(vm.interfaces)
        own |= {c.id for c in host.containers if c.tenant == tenant}
    own.discard("")
    return own


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^0-9a-z]+", text.casefold()) if t}


def _tenant_values(doc: Any) -> Iterable[str | None]:
    """Tenant ids named by a document's tenant fields, at any depth."""
    if isinstance(doc, dict):
        for name, value in doc.items():
            if name in _TENANT_FIELDS and isinstance(value, str):
                yield value
            elif name in _TENANT_LISTS and isinstance(value, list | tuple):
                yield from (v for v in value if isinstance(v, str))
            elif isinstance(value, dict | list | tuple):
                yield from _tenant_values(value)
            elif name == "type" and value == "tenant" and isinstance(doc.get("id"), str):
                # An entity names the tenant itself; a graph node's id is "tenant:<id>".
                yield doc["id"].removeprefix("tenant:")
    elif isinstance(doc, list | tuple):
        for item in doc:
            yield from _tenant_values(item)
