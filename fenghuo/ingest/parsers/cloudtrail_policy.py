"""Grants from resource policies and principal strings (S3, SQS, SNS, KMS, ECR, IAM trust, ...).

Every `Allow` statement with a `Principal` grants its actions on the resource to each principal it
names; `Deny` statements grant nothing. An `Allow` with `NotPrincipal` grants to everyone but the
named principals, so it is recorded as a grant to everyone. A `Condition` can narrow a grant to
everyone (`aws:SourceAccount`, `aws:PrincipalOrgID`, ...), but whether it really does is a policy
evaluation question: the grant stays "everyone" with `conditional` set, so a detector can decide.

A policy that is not valid JSON (truncated, hand-edited) is salvaged statement by statement: any
complete JSON object inside it that looks like a statement is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from fenghuo.ingest.parsers.cloudtrail_fields import (
    JsonObject,
    as_list,
    get_obj,
    get_str,
    is_account,
    json_document,
    obj,
    parse_arn,
    strings,
)
from fenghuo.model import Grant, Resource
from fenghuo.model.events import GranteeKind

_DECODER = json.JSONDecoder()
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(?:\.cn)?|[a-z0-9.-]+\.amazon\.com")
EVERYONE = "*"
_MAX_SALVAGE_ATTEMPTS = 10_000


def principal_grant(
    resource: Resource,
    principal: str,
    permission: str | None,
    *,
    revoke: bool = False,
    kind_hint: str | None = None,
    conditional: bool = False,
) -> Grant:
    """A grant to one principal string, its kind told by its form.

    `*` is everyone; a 12-digit id or an `arn:...:root` is the whole account; an Organizations
    ARN is an organization (the account in it is the management account); any other ARN is a
    principal of the account it names; `*.amazonaws.com` is a service; anything else (a canonical
    user id, a unique id of a deleted role, an e-mail address) is a principal of unknown account.
    """
    kind: GranteeKind
    grantee = principal
    account = None
    arn = parse_arn(principal)
    if principal in ("*", "all") and kind_hint != "CanonicalUser":
        kind = "everyone"
    elif kind_hint == "Service" or (arn is None and _SERVICE.fullmatch(principal)):
        kind = "service"
    elif is_account(principal):
        kind, account = "account", principal
    elif arn is not None and arn.service == "organizations":
        kind, account = "organization", arn.account_id
    elif arn is not None and arn.service == "iam" and arn.resource == "root":
        kind = "account"
        account = arn.account_id
        grantee = account or principal
    elif arn is not None:
        kind, account = "principal", arn.account_id
    else:
        kind = "principal"
    return Grant(
        resource=resource,
        grantee_kind=kind,
        grantee=grantee,
        grantee_account_id=account,
        permission=permission,
        revoke=revoke,
        conditional=conditional,
    )


def statements(policy: object) -> list[JsonObject]:
    """The statements of a policy given as an object, JSON text or broken JSON text."""
    document = json_document(policy)
    if document is None:
        return _salvage(policy) if isinstance(policy, str) else []
    root = obj(document)
    if root is None:  # a bare list of statements
        return [s for s in as_list(document) if isinstance(s, dict)]
    if "Statement" not in root and ("Effect" in root or "Principal" in root):
        return [root]
    return [s for s in as_list(root.get("Statement")) if isinstance(s, dict)]


def _salvage(text: str) -> list[JsonObject]:
    """Complete statement objects found inside text that is not valid JSON as a whole."""
    found: list[JsonObject] = []
    offset = text.find("{", 1)
    attempts = 0
    while offset >= 0 and attempts < _MAX_SALVAGE_ATTEMPTS:
        attempts += 1
        try:
            value, end = _DECODER.raw_decode(text, offset)
        except (ValueError, RecursionError):
            offset = text.find("{", offset + 1)
            continue
        if isinstance(value, dict) and "Effect" in value:
            found.append(value)
            offset = text.find("{", end)
        else:
            offset = text.find("{", offset + 1)
    return found


def _permission(statement: JsonObject, default: str | None) -> str | None:
    actions = strings(statement.get("Action"))
    text = ",".join(actions) if actions else default
    if statement.get("NotAction") is not None:
        text = f"NotAction {','.join(strings(statement.get('NotAction')))}".strip()
    return text


def _principal_entries(principal: object) -> Iterator[tuple[str | None, str]]:
    """(principal type, value) pairs of a `Principal` member: `"*"` or `{"AWS": [...], ...}`."""
    if isinstance(principal, str):
        yield None, principal
        return
    for key, value in (obj(principal) or {}).items():
        for text in strings(value):
            yield key, text


def statement_grants(
    resource: Resource, statement: JsonObject, default_permission: str | None
) -> list[Grant]:
    """Grants of one statement (none for Deny or for a statement without principals)."""
    effect = get_str(statement, "Effect")
    if effect is None or effect.lower() != "allow":
        return []
    permission = _permission(statement, default_permission)
    conditional = bool(obj(statement.get("Condition")))
    if statement.get("NotPrincipal") is not None:
        text = f"{permission or '*'} (NotPrincipal)"
        return [principal_grant(resource, EVERYONE, text, conditional=conditional)]
    return [
        principal_grant(resource, text, permission, kind_hint=key, conditional=conditional)
        for key, text in _principal_entries(statement.get("Principal"))
    ]


def policy_grants(
    resource: Resource, policy: object, default_permission: str | None = None
) -> list[Grant]:
    """Every grant a resource policy makes on `resource`."""
    grants: list[Grant] = []
    for statement in statements(policy):
        grants.extend(statement_grants(resource, statement, default_permission))
    return grants


def s3_acl_grants(resource: Resource, params: JsonObject, *, revoke: bool = False) -> list[Grant]:
    """Grants of an S3 ACL: the XML body's grants, canned `x-amz-acl` and `x-amz-grant-*`.

    The owner's own grant (every ACL has one) is left out: it shares nothing.
    """
    policy = get_obj(params, "AccessControlPolicy")
    owner_id = get_str(get_obj(policy, "Owner"), "ID")
    acl = get_obj(policy, "AccessControlList")
    grants: list[Grant] = []
    for entry in as_list(acl.get("Grant") if acl else None):
        entry_obj = obj(entry)
        grantee = get_obj(entry_obj, "Grantee")
        permission = get_str(entry_obj, "Permission")
        grant = _acl_grantee(resource, grantee, permission, owner_id)
        if grant is not None:
            grants.append(grant)
    for canned in strings(params.get("x-amz-acl")):
        grants.extend(_canned_acl(resource, canned))
    for key, value in params.items():
        if key.lower().startswith("x-amz-grant-"):
            permission = key[len("x-amz-grant-") :].upper().replace("-", "_")
            for text in strings(value):
                grants.extend(_grant_header(resource, text, permission, owner_id))
    return grants


_GROUP_PREFIX = "http://acs.amazonaws.com/groups/"
_EVERYONE_GROUPS = {"global/AllUsers": "", "global/AuthenticatedUsers": " (AuthenticatedUsers)"}


def _group_grant(resource: Resource, uri: str, permission: str | None) -> Grant:
    group = uri.removeprefix(_GROUP_PREFIX)
    if group in _EVERYONE_GROUPS:
        text = f"{permission or 'READ'}{_EVERYONE_GROUPS[group]}"
        return principal_grant(resource, EVERYONE, text)
    return Grant(resource=resource, grantee_kind="group", grantee=uri, permission=permission)


def _acl_grantee(
    resource: Resource, grantee: JsonObject | None, permission: str | None, owner_id: str | None
) -> Grant | None:
    uri = get_str(grantee, "URI")
    if uri is not None:
        return _group_grant(resource, uri, permission)
    canonical = get_str(grantee, "ID")
    if canonical is not None:
        if canonical == owner_id:
            return None
        return principal_grant(resource, canonical, permission, kind_hint="CanonicalUser")
    email = get_str(grantee, "EmailAddress")
    if email is not None:
        return principal_grant(resource, email, permission, kind_hint="CanonicalUser")
    return None


_CANNED: dict[str, tuple[tuple[str, str], ...]] = {
    "public-read": (("global/AllUsers", "READ"),),
    "public-read-write": (("global/AllUsers", "READ"), ("global/AllUsers", "WRITE")),
    "authenticated-read": (("global/AuthenticatedUsers", "READ"),),
    "log-delivery-write": (("s3/LogDelivery", "WRITE"), ("s3/LogDelivery", "READ_ACP")),
}


def _canned_acl(resource: Resource, canned: str) -> list[Grant]:
    return [
        _group_grant(resource, _GROUP_PREFIX + group, permission)
        for group, permission in _CANNED.get(canned, ())
    ]


_HEADER_GRANTEE = re.compile(r'(id|uri|emailAddress)\s*=\s*"?([^",]+)"?', re.IGNORECASE)


def _grant_header(resource: Resource, text: str, permission: str, owner: str | None) -> list[Grant]:
    """`x-amz-grant-read: uri="http://acs.../AllUsers", id="abc"` style header values."""
    grants: list[Grant] = []
    for key, value in _HEADER_GRANTEE.findall(text):
        field = {"id": "ID", "uri": "URI", "emailaddress": "EmailAddress"}[key.lower()]
        grant = _acl_grantee(resource, {field: value.strip()}, permission, owner)
        if grant is not None:
            grants.append(grant)
    return grants


def account_grants(
    resource: Resource, values: Iterable[str], permission: str | None, *, revoke: bool = False
) -> list[Grant]:
    """Grants to a list of account ids (or `all` / `*`), as snapshot attributes list them."""
    return [principal_grant(resource, value, permission, revoke=revoke) for value in values]
