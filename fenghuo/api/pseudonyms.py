"""Other tenants by pseudonym: what a `tenant_viewer` sees of tenants that are not its own.

A pseudonym is a keyed HMAC of the identifier (`settings.pseudonym_key`), so it is stable (the
same tenant reads the same everywhere and across requests, and a viewer can correlate two of its
alerts that involve the same neighbour) but cannot be reversed or recomputed without the key.

Redaction covers every identifier that names another tenant or its property, taken from the
inventory: tenant ids and display names, cloud accounts, VPCs, VM names, UUIDs, instance ids and
addresses, container ids and names. It runs over the whole response document (titles, summaries,
details, graph nodes, timelines), so text written by a detector ("acme VM acme-web-1 ...") is
covered too. A tenant id found in a document's tenant fields but not in the inventory is
pseudonymised as well. Provider-owned names (hosts, shared services) and parties outside the
cloud (external accounts) are not tenants and stay as they are.

How text is matched (`Redactor.text`), one regex per viewer mapping, scanning left to right; at
each position the longest candidate that matches there wins, and matches do not overlap:

- another tenant's id or display name, as a *token*: bounded by the start or end of the text or
  by any character that is not `[A-Za-z0-9]`, so a tenant joined to other text is hidden too
  ("globex->acme", "role/globex-app-instance-role"); it reads as the tenant's pseudonym;
- any other hidden identifier (VM name, address, account, ...), *whole*: not next to a word
  character `[A-Za-z0-9_]`, nor to a hyphen that joins it to one ("globex-web-1" and
  "globex-web-1->acme", not "globex-web-10" nor "x-globex-web-1"); it reads as its own
  pseudonym;
- the viewer's own identifiers (`_own_identifiers`), bounded like a token: kept as they are, and
  a tenant id inside one (the viewer's VM "acme-globex-bridge") is the viewer's own text. An own
  identifier is rewritten only as part of a longer hidden one that starts there or before it
  (another tenant's VM "globex-acme-peer" is that tenant's name, read whole).

A string that is both the viewer's own identifier and another tenant's (a shared label) is the
viewer's to see, as whole identifiers always were; a tenant named only by a document's tenant
fields is hidden even then.
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

# What continues an identifier: a whole identifier must not be part of a longer one. A word
# character does, and so does a hyphen between it and a word character ("globex-web-10"), but
# not a hyphen before anything else ("10.2.0.11->10.1.0.11", "hooli-app-1->acme").
_WORD = r"A-Za-z0-9_"
_NOT_AFTER_IDENT = rf"(?<![{_WORD}])(?<![{_WORD}]-)"
_NOT_BEFORE_IDENT = rf"(?![{_WORD}])(?!-[{_WORD}])"
# Characters that continue a token: a tenant's id or name must not be part of a longer word.
_ALNUM = r"A-Za-z0-9"
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
        self._names: dict[str, str] = {}  # every hidden identifier (tenants too) -> pseudonym
        self._token_names: dict[str, str] = {}  # other tenants' ids and names, hidden as tokens
        self._keep: frozenset[str] = frozenset()  # the viewer's own identifiers, as written
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

    @classmethod
    def for_outsider(cls, key: bytes, inventory: InventoryIndex | None) -> Redactor:
        """A reader with no tenant of its own (a regulator's feed): every tenant is hidden.
        Same mapping as a viewer's, so each tenant reads as the same pseudonym everywhere."""
        return copy.copy(_outsider_prototype(key, inventory))

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
            self._token_names[tenant.id] = self._names[tenant.id]
            if tenant.name and tenant.name != tenant.id:
                self._names[tenant.name] = pseudonym(self.key, "tenant", tenant.id)
                self._token_names[tenant.name] = self._names[tenant.name]
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
            self._token_names.pop(name, None)
        self._own = {name.casefold() for name in own}
        self._keep = frozenset(own)

    def _compile(self) -> None:
        """The one regex of this mapping (see the module's docstring) and what each match
        becomes. Built when the mapping is (`_prototype`), again only if a document adds a
        tenant (`_learn_tenants`)."""
        # Hidden beats kept for the same string only for a tenant a document named
        # (`_learn_tenants`): the inventory's own identifiers were taken out of the mapping.
        self._replacements = {name: name for name in self._keep} | self._names
        if not self._names:  # nothing to hide: the viewer's own identifiers need no matching
            self._pattern: re.Pattern[str] | None = None
            return
        # Every candidate ends with its own boundary check. Where an identifier goes on before
        # the position (after "_", or "-" after a word character) only tokens can start
        # (another hidden identifier is whole), elsewhere any candidate can.
        anywhere = _Trie()
        in_word = _Trie()
        for name in self._replacements:
            if name in self._names and name not in self._token_names:
                anywhere.add(name, _NOT_BEFORE_IDENT)  # another hidden identifier: whole
            else:  # a tenant's id or name, or the viewer's own identifier: a token
                anywhere.add(name, f"(?![{_ALNUM}])")
                in_word.add(name, f"(?![{_ALNUM}])")
        branches = [f"{_NOT_AFTER_IDENT}{anywhere.regex()}"]
        if in_word.children:
            branches.append(f"(?<=[_\\-]){in_word.regex()}")
        self._pattern = re.compile("|".join(branches))

    def _learn_tenants(self, tenants: Iterable[str | None]) -> None:
        added = False
        for tenant in tenants:
            if tenant and tenant != self.own_tenant and tenant not in self._names:
                if not added:  # copy on write: the mapping may be shared (`for_viewer`)
                    self._names = dict(self._names)
                    self._token_names = dict(self._token_names)
                    self._tenant_tokens = set(self._tenant_tokens)
                self._hide("tenant", tenant)
                self._token_names[tenant] = self._names[tenant]
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
        return self._pattern.sub(lambda m: self._replacements[m.group(0)], value)

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


@functools.lru_cache(maxsize=64)
def _outsider_prototype(key: bytes, inventory: InventoryIndex | None) -> Redactor:
    redactor = Redactor(key, None, None)  # inactive until told: `own_tenant=None` means "admin"
    redactor.active = True
    if inventory is not None:
        redactor._learn_inventory(inventory)  # own_tenant None: no tenant is skipped
    redactor._compile()
    return redactor


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


class _Trie:
    """Literal strings as one regex that shares their prefixes: `re` tries the alternatives of
    an alternation one by one, so a flat alternation of thousands of identifiers costs
    thousands of tries at every position of the text; this costs a few per character matched.
    At each point the longer continuations come first, so the longest string that matches
    (with its own end check) wins, as in a flat alternation sorted longest first."""

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.end: str | None = None  # the end check of a string that ends here

    def add(self, literal: str, end: str) -> None:
        node = self
        for char in literal:
            node = node.children.setdefault(char, _Trie())
        node.end = end

    def regex(self) -> str:
        parts = []
        node = self
        # A chain of single characters is one literal, not nested groups: the nesting (and
        # the recursion here) is as deep as the strings branch, not as long as they are.
        while len(node.children) == 1 and node.end is None:
            ((char, node),) = node.children.items()
            parts.append(re.escape(char))
        branches = [
            re.escape(char) + child.regex() for char, child in sorted(node.children.items())
        ]
        if node.end is not None:
            branches.append(node.end)  # last: a longer string that matches wins
        if len(branches) == 1:
            return "".join(parts) + branches[0]
        return "".join(parts) + "(?:" + "|".join(branches) + ")"


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
