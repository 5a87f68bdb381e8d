"""Another tenant joined to other text ("globex->acme", "role/globex-app-instance-role") is hidden
as a token; the viewer's own identifiers are kept whole; other identifiers are replaced whole."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fenghuo.api.pseudonyms import Redactor, pseudonym
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import parse_inventory
from tests.graph.support import inventory

KEY = b"k1"

# acme owns VMs whose names hold another tenant's id ("acme-globex-bridge", "globex-mirror");
# globex owns one that holds acme's ("globex-acme-peer").
YAML = """
tenants:
  - {id: acme, name: Acme Corp, accounts: ["111111111111"], cidrs: ["10.1.0.0/16"]}
  - id: globex
    name: Globex Corporation
    accounts: ["222222222222"]
    vpcs: [vpc-0a1b2c]
    cidrs: ["10.2.0.0/16"]
  - {id: hooli, accounts: ["333333333333"], cidrs: ["10.3.0.0/16"]}
hosts:
  - id: hv-01
    vms:
      - {name: acme-web-1, tenant: acme, ips: ["10.1.0.11"]}
      - {name: acme-globex-bridge, tenant: acme, ips: ["10.1.0.12"]}
      - {name: globex-mirror, tenant: acme, ips: ["10.1.0.13"]}
      - {name: globex-web-1, tenant: globex, ips: ["10.2.0.11"], instance_id: i-0globex1}
      - {name: globex-acme-peer, tenant: globex, ips: ["10.2.0.12"]}
      - {name: hooli-app-1, tenant: hooli, ips: ["10.3.0.11"]}
    containers:
      - {id: c0ffee000001, tenant: hooli}
"""


def joined_inventory() -> InventoryIndex:
    return InventoryIndex(parse_inventory(YAML))


def p(kind: str, value: str) -> str:
    return pseudonym(KEY, kind, value)


GLOBEX = p("tenant", "globex")
HOOLI = p("tenant", "hooli")


def test_a_tenant_joined_to_a_flow_is_hidden() -> None:
    redactor = Redactor.for_viewer(KEY, "acme", inventory())
    assert redactor.text("globex->acme") == f"{GLOBEX}->acme"
    assert redactor.text("acme->globex") == f"acme->{GLOBEX}"
    out = redactor.document({"summary": "flow globex->acme, 10.2.0.11->10.1.0.11"})
    assert out == {"summary": f"flow {GLOBEX}->acme, {p('ip', '10.2.0.11')}->10.1.0.11"}


def test_a_tenant_inside_an_arn_is_hidden() -> None:
    redactor = Redactor.for_viewer(KEY, "acme", inventory())
    arn = "arn:aws:iam::222222222222:role/globex-app-instance-role"
    expected = f"arn:aws:iam::{p('account', '222222222222')}:role/{GLOBEX}-app-instance-role"
    assert redactor.text(arn) == expected
    doc = {"entities": [{"type": "resource", "id": arn}], "details": {arn: [arn]}}
    out = redactor.document(doc)
    assert out == {
        "entities": [{"type": "resource", "id": expected}],
        "details": {expected: [expected]},
    }
    # Underscores and other separators are token boundaries too; a longer word is not.
    assert redactor.text("snap_globex_2026/globex.tar") == f"snap_{GLOBEX}_2026/{GLOBEX}.tar"
    assert redactor.text("globexcorp deglobex globex2 acmex") == "globexcorp deglobex globex2 acmex"


def test_display_names_are_tokens_too_and_other_identifiers_stay_whole() -> None:
    redactor = Redactor.for_viewer(KEY, "acme", joined_inventory())
    assert redactor.text("Globex Corporation-peering") == f"{GLOBEX}-peering"
    # A hidden VM reads whole as the VM's pseudonym, wherever it stands whole...
    web = p("vm", "globex-web-1")
    assert redactor.text("globex-web-1") == web
    assert redactor.text("role/globex-web-1:443") == f"role/{web}:443"
    assert redactor.text("hooli-app-1->globex-web-1") == f"{p('vm', 'hooli-app-1')}->{web}"
    # ... and a longer word that contains it is not that VM, but still names the tenant.
    assert redactor.text("globex-web-10") == f"{GLOBEX}-web-10"
    assert redactor.text("globex-web-1-old") == f"{GLOBEX}-web-1-old"
    assert redactor.text("--globex-web-1 <-globex-web-1") == f"--{web} <-{web}"
    assert redactor.text("x-globex-web-1") == f"x-{GLOBEX}-web-1"
    assert redactor.text("i-0globex1") == p("vm", "i-0globex1")  # not a token of "globex"
    # A neighbour's VM that holds the viewer's id is the neighbour's, read whole.
    assert redactor.text("globex-acme-peer") == p("vm", "globex-acme-peer")


def test_the_viewers_own_identifiers_are_kept_whole() -> None:
    redactor = Redactor.for_viewer(KEY, "acme", joined_inventory())
    for own in ("acme-globex-bridge", "globex-mirror", "Acme Corp", "acme-web-1"):
        assert redactor.text(own) == own
    # Wherever they stand as a token, also joined to other text.
    assert redactor.text("acme-globex-bridge->globex-web-1") == (
        f"acme-globex-bridge->{p('vm', 'globex-web-1')}"
    )
    assert redactor.text("role/acme-globex-bridge-role") == "role/acme-globex-bridge-role"
    assert redactor.text("hooli->globex-mirror:22") == f"{HOOLI}->globex-mirror:22"
    # A longer word is not the viewer's identifier: the tenant in it is hidden.
    assert redactor.text("acme-globex-bridge2") == f"acme-{GLOBEX}-bridge2"
    assert redactor.text("globex-mirrored") == f"{GLOBEX}-mirrored"
    # The other way round: globex's viewer keeps its VM and hides acme in acme's.
    globex = Redactor.for_viewer(KEY, "globex", joined_inventory())
    acme = p("tenant", "acme")
    assert globex.text("globex-acme-peer->acme") == f"globex-acme-peer->{acme}"
    assert globex.text("globex-mirror") == p("vm", "globex-mirror")
    assert globex.text("acme-globex-bridge") == p("vm", "acme-globex-bridge")
    assert globex.text("acme-globex-bridge-2") == f"{acme}-globex-bridge-2"


def test_a_tenant_named_only_by_a_document_is_hidden_as_a_token() -> None:
    prototype_pattern = Redactor.for_viewer(KEY, "acme", inventory())._pattern
    redactor = Redactor.for_viewer(KEY, "acme", inventory())
    assert redactor._pattern is prototype_pattern  # compiled once per mapping, shared
    out = redactor.document({"tenants": ["acme", "newco"], "title": "newco->acme newco_db"})
    newco = p("tenant", "newco")
    assert out == {"tenants": ["acme", newco], "title": f"{newco}->acme {newco}_db"}
    # The shared mapping is not changed by one request's document.
    assert Redactor.for_viewer(KEY, "acme", inventory())._pattern is prototype_pattern
    assert Redactor.for_viewer(KEY, "acme", inventory()).text("newco->acme") == "newco->acme"


def test_an_outsider_reads_every_tenant_as_a_pseudonym_also_joined() -> None:
    outsider = Redactor.for_outsider(KEY, joined_inventory())
    assert outsider.text("globex->acme") == f"{GLOBEX}->{p('tenant', 'acme')}"
    assert outsider.text("acme-globex-bridge") == p("vm", "acme-globex-bridge")
    assert outsider.text("acme-globex-bridge-2") == f"{p('tenant', 'acme')}-{GLOBEX}-bridge-2"


def test_search_is_unchanged() -> None:
    redactor = Redactor.for_viewer(KEY, "acme", joined_inventory())
    assert redactor.search_text(f"escape {GLOBEX}") == "escape globex"
    assert redactor.search_text("globex->acme") is None
    assert redactor.search_text("acme-globex-bridge") == "acme-globex-bridge"


# --- the rule, on random texts --------------------------------------------------------------

_INV = joined_inventory()
_TENANTS = sorted(_INV.tenants)
_OTHER_IDENTIFIERS = [
    "Acme Corp",
    "Globex Corporation",
    "111111111111",
    "222222222222",
    "333333333333",
    "vpc-0a1b2c",
    "i-0globex1",
    "c0ffee000001",
    *(vm.name for host in _INV.hosts.values() for vm in host.vms),
    *(str(ip) for host in _INV.hosts.values() for vm in host.vms for ip in vm.ips),
    "app",
    "role",
    "1",
]
_SEPARATORS = ["-", "_", ">", "/", ":", " ", "->", "::"]
_PIECES = st.sampled_from(_TENANTS + _OTHER_IDENTIFIERS + _SEPARATORS)


def _hidden(viewer: str) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """What the rule hides for `viewer`, straight from the inventory: (tokens, whole, own)."""
    tokens: dict[str, str] = {}
    whole: dict[str, str] = {}
    own: set[str] = set()
    for tenant in _INV.tenants.values():
        mine = tenant.id == viewer
        if mine:
            own |= {tenant.id, tenant.name, *tenant.accounts, *tenant.vpcs}
            continue
        tokens[tenant.id] = p("tenant", tenant.id)
        if tenant.name:
            tokens[tenant.name] = p("tenant", tenant.id)
        whole |= {a: p("account", a) for a in tenant.accounts}
        whole |= {v: p("vpc", v) for v in tenant.vpcs}
    for host in _INV.hosts.values():
        for vm in host.vms:
            names = {vm.name: "vm", vm.instance_id or "": "vm"}
            names |= {str(ip): "ip" for ip in vm.ips}
            if vm.tenant == viewer:
                own |= set(names)
            else:
                whole |= {name: p(kind, name) for name, kind in names.items()}
        for container in host.containers:
            if container.tenant == viewer:
                own.add(container.id)
            else:
                whole[container.id] = p("container", container.id)
    own.discard("")
    whole.pop("", None)
    return tokens, whole, own


def _alnum(text: str, i: int, step: int) -> bool:
    """Whether the character at `i` (next to a match, on the side `step` points to) is
    alphanumeric: it continues a token."""
    return 0 <= i < len(text) and bool(re.match(r"[A-Za-z0-9]", text[i]))


def _ident(text: str, i: int, step: int) -> bool:
    """Whether an identifier continues at `i`: a word character, or a hyphen followed (away
    from the match) by one."""
    word = 0 <= i < len(text) and bool(re.match(r"[A-Za-z0-9_]", text[i]))
    return word or (0 <= i < len(text) and text[i] == "-" and _ident_word(text, i + step))


def _ident_word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and bool(re.match(r"[A-Za-z0-9_]", text[i]))


def _reference(text: str, viewer: str) -> str:
    """The rule, spelled out: left to right, the longest candidate that matches at a position
    wins; tokens and own identifiers are bounded by non-alphanumerics, other identifiers by
    anything but a word character or a hyphen joined to one."""
    tokens, whole, own = _hidden(viewer)
    candidates = [(n, r, _alnum) for n, r in tokens.items()]
    candidates += [(n, r, _ident) for n, r in whole.items()]
    candidates += [(n, n, _alnum) for n in own if n not in tokens and n not in whole]
    out, i = [], 0
    while i < len(text):
        best: tuple[str, str] | None = None
        for name, replacement, continues in candidates:
            end = i + len(name)
            if (
                text.startswith(name, i)
                and not continues(text, i - 1, -1)
                and not continues(text, end, 1)
                and (best is None or len(name) > len(best[0]))
            ):
                best = (name, replacement)
        if best is None:
            out.append(text[i])
            i += 1
        else:
            out.append(best[1])
            i += len(best[0])
    return "".join(out)


def _token_spans(text: str, name: str) -> list[tuple[int, int]]:
    spans = []
    for m in re.finditer(re.escape(name), text):
        if not _alnum(text, m.start() - 1, -1) and not _alnum(text, m.end(), 1):
            spans.append((m.start(), m.end()))
    return spans


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_TENANTS), st.lists(_PIECES, max_size=14))
def test_no_other_tenant_survives_as_a_token(viewer: str, pieces: list[str]) -> None:
    text = "".join(pieces)
    redactor = Redactor.for_viewer(KEY, viewer, _INV)
    out = redactor.document({"summary": text})["summary"]
    assert out == redactor.text(text) == _reference(text, viewer)
    own = _hidden(viewer)[2]
    kept = [span for name in own for span in _token_spans(out, name)]
    for tenant in _TENANTS:
        if tenant == viewer:
            continue
        for start, end in _token_spans(out, tenant):
            # Only inside one of the viewer's own identifiers ("acme-globex-bridge").
            assert any(a <= start and end <= b for a, b in kept), (text, out, tenant)
