"""Typed access to decoded CloudTrail JSON, and ARN parsing.

CloudTrail is loosely typed (a field can be an object in one record and a string or null in the
next, `requestParameters` shapes follow each service's API), so every lookup checks the type and
answers None or an empty list rather than trusting the shape. Raw dicts stay inside the
`cloudtrail*` parser modules; everything they return is a str, a list or a typed model object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

JsonObject = dict[str, Any]

_ACCOUNT = re.compile(r"[0-9]{12}")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def obj(value: object) -> JsonObject | None:
    """`value` if it is a JSON object, else None."""
    return value if isinstance(value, dict) else None


def get_obj(parent: JsonObject | None, key: str) -> JsonObject | None:
    return obj(parent.get(key)) if parent is not None else None


def get_str(parent: JsonObject | None, key: str) -> str | None:
    """A non-empty string member, else None (numbers are not silently turned into ids)."""
    if parent is None:
        return None
    value = parent.get(key)
    return value if isinstance(value, str) and value else None


def as_list(value: object) -> list[object]:
    """A list as is, a single value as a list of one, null as an empty list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def get_list(parent: JsonObject | None, key: str) -> list[object]:
    return as_list(parent.get(key)) if parent is not None else []


def strings(value: object) -> list[str]:
    """The non-empty strings in a string or list value (EC2 `items` lists are not unwrapped)."""
    return [item for item in as_list(value) if isinstance(item, str) and item]


def get_bool(parent: JsonObject | None, key: str) -> bool | None:
    """A boolean member; older records write `"true"`/`"false"` as strings."""
    value = parent.get(key) if parent is not None else None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def items(parent: JsonObject | None, key: str) -> list[JsonObject]:
    """The objects of an EC2-style `{"items": [...]}` member (or of a plain list)."""
    value = parent.get(key) if parent is not None else None
    container = obj(value)
    if container is not None:
        value = container.get("items")
    return [entry for entry in as_list(value) if isinstance(entry, dict)]


def json_document(value: object) -> JsonObject | list[object] | None:
    """A policy-like document given as an object or as JSON text (possibly URL-encoded)."""
    if isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict | list) else None


def is_account(value: str | None) -> bool:
    return value is not None and _ACCOUNT.fullmatch(value) is not None


def account_or_none(value: str | None) -> str | None:
    return value if is_account(value) else None


@dataclass(frozen=True, slots=True)
class Arn:
    """`arn:partition:service:region:account:resource`, with the resource split into type and id."""

    text: str
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def account_id(self) -> str | None:
        return account_or_none(self.account)

    @property
    def resource_type(self) -> str:
        """The type prefix of the resource part (`snapshot` in `snapshot/snap-1`), or ''."""
        if self.service == "s3":
            return "object" if "/" in self.resource else "bucket"
        cut = _first_separator(self.resource)
        return self.resource[:cut] if cut >= 0 else ""

    @property
    def resource_id(self) -> str:
        """The id part: whole S3 path, last IAM path segment, else what follows the type prefix."""
        if self.service == "s3":
            return self.resource
        if self.service == "iam":
            return self.resource.rsplit("/", 1)[-1]
        cut = _first_separator(self.resource)
        return self.resource[cut + 1 :] if cut >= 0 else self.resource


def _first_separator(resource: str) -> int:
    positions = [p for p in (resource.find("/"), resource.find(":")) if p >= 0]
    return min(positions) if positions else -1


def parse_arn(value: str | None) -> Arn | None:
    if value is None or not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    if len(parts) != 6 or not parts[2]:
        return None
    return Arn(value, parts[1], parts[2], parts[3], parts[4], parts[5])


def kebab(name: str) -> str:
    """`DBClusterSnapshot` -> `db-cluster-snapshot`; already lower-case names pass through."""
    return _CAMEL_BOUNDARY.sub("-", name).lower()


# Type names as Fenghuo uses them where the ARN's own resource-type word differs.
_ARN_TYPE_ALIASES: dict[tuple[str, str], str] = {
    ("rds", "snapshot"): "db-snapshot",
    ("rds", "cluster-snapshot"): "db-cluster-snapshot",
    ("glacier", "vaults"): "vault",
}
# Services whose ARNs carry no type prefix: the one kind of resource they name.
_UNTYPED_ARN_TYPES: dict[str, str] = {
    "sqs": "queue",
    "sns": "topic",
}


def arn_type(arn: Arn) -> str:
    """The Fenghuo resource type (`service:kind`) an ARN names."""
    if arn.service in _UNTYPED_ARN_TYPES and _first_separator(arn.resource) < 0:
        return f"{arn.service}:{_UNTYPED_ARN_TYPES[arn.service]}"
    kind = arn.resource_type
    if not kind:
        return arn.service
    kind = _ARN_TYPE_ALIASES.get((arn.service, kind), kebab(kind))
    return f"{arn.service}:{kind}"


def cfn_type(value: str) -> str:
    """A CloudFormation-style type (`AWS::EC2::Snapshot`) as `ec2:snapshot`."""
    parts = [p for p in value.split("::") if p]
    if len(parts) >= 3 and parts[0].upper() == "AWS":
        return f"{parts[1].lower()}:{kebab(parts[2])}"
    return value.lower()
