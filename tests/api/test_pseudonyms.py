"""The pseudonym rewriter on its own: whole identifiers, stable keyed names, search rules."""

from __future__ import annotations

from fenghuo.api.pseudonyms import Redactor, pseudonym
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import parse_inventory
from tests.graph.support import inventory

KEY = b"k1"


def test_pseudonyms_are_keyed_stable_and_distinct() -> None:
    assert pseudonym(KEY, "tenant", "globex") == pseudonym(KEY, "tenant", "globex")
    assert pseudonym(KEY, "tenant", "globex") != pseudonym(KEY, "tenant", "hooli")
    assert pseudonym(KEY, "tenant", "globex") != pseudonym(b"k2", "tenant", "globex")
    assert pseudonym(KEY, "vm", "globex") != pseudonym(KEY, "tenant", "globex")


def test_a_document_keeps_the_viewer_and_hides_the_rest() -> None:
    redactor = Redactor(KEY, "acme", inventory())
    doc = {
        "tenant_id": "acme",
        "actor_tenant_id": "globex",
        "summary": (
            "acme-web-1 (tenant acme) read memory of globex-db-1 (tenant globex) via 10.2.0.11"
        ),
        "entities": [{"type": "account", "id": "222222222222"}, {"type": "host", "id": "hv-01"}],
        "details": {"globex": ["hooli-app-1", "acmex", "globexcorp"]},
    }
    out = redactor.document(doc)
    globex = pseudonym(KEY, "tenant", "globex")
    assert out["tenant_id"] == "acme"
    assert out["actor_tenant_id"] == globex
    assert out["summary"] == (
        f"acme-web-1 (tenant acme) read memory of {pseudonym(KEY, 'vm', 'globex-db-1')} "
        f"(tenant {globex}) via {pseudonym(KEY, 'ip', '10.2.0.11')}"
    )
    assert out["entities"] == [
        {"type": "account", "id": pseudonym(KEY, "account", "222222222222")},
        {"type": "host", "id": "hv-01"},  # the provider's host is nobody's secret
    ]
    # Keys too; longer words that merely contain a name are left alone.
    assert out["details"] == {globex: [pseudonym(KEY, "vm", "hooli-app-1"), "acmex", "globexcorp"]}


def test_a_tenant_missing_from_the_inventory_is_hidden_too() -> None:
    redactor = Redactor(KEY, "acme", inventory())
    out = redactor.document({"tenants": ["acme", "newco"], "title": "newco and acme"})
    newco = pseudonym(KEY, "tenant", "newco")
    assert out == {"tenants": ["acme", newco], "title": f"{newco} and acme"}


def test_roles_that_see_everything_get_documents_unchanged() -> None:
    doc = {"tenant_id": "globex", "summary": "globex-db-1"}
    assert Redactor.none().document(doc) == doc


def test_filters_take_pseudonyms_and_ignore_real_names_of_others() -> None:
    redactor = Redactor(KEY, "acme", inventory())
    globex = pseudonym(KEY, "tenant", "globex")
    assert redactor.real_tenant("acme") == "acme"
    assert redactor.real_tenant(globex) == "globex"
    assert redactor.real_tenant("globex") is None
    assert redactor.search_text(f"escape {globex}") == "escape globex"
    assert redactor.search_text("escape GLOBEX") is None
    assert redactor.search_text("globex-db-1") is None
    assert redactor.search_text("globex's") is None
    assert redactor.search_text("acme escape") == "acme escape"
    # The viewer's own VM shares tokens with a neighbour's ("web", "1") but is its own to find.
    assert redactor.search_text("acme-web-1") == "acme-web-1"
    assert redactor.search_text("web") is None


def test_shared_labels_and_the_viewers_own_identifiers_are_left_alone() -> None:
    yaml_text = """
tenants:
  - {id: acme}
  - {id: globex}
hosts:
  - id: hv-01
    containers:
      - {id: aaaaaaaaaaaa, tenant: acme, name: cache}
      - {id: bbbbbbbbbbbb, tenant: globex, name: cache}
"""
    redactor = Redactor(KEY, "acme", InventoryIndex(parse_inventory(yaml_text)))
    out = redactor.document({"summary": "cache container aaaaaaaaaaaa and bbbbbbbbbbbb"})
    hidden = pseudonym(KEY, "container", "bbbbbbbbbbbb")
    assert out == {"summary": f"cache container aaaaaaaaaaaa and {hidden}"}
