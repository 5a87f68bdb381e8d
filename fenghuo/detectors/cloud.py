"""Facts about control-plane calls that the cloud detectors share: whose credentials made a call,
which tenant an account, an address or a resource belongs to, and how to name them in a summary.

Everything here reads the typed `ApiCall` and the inventory index; raw CloudTrail stays in the
parser.
"""

from __future__ import annotations

from fenghuo.inventory.index import InventoryIndex, VmRecord
from fenghuo.model import Actor, ApiCall, Resource
from fenghuo.model.alert import Entity

# What CloudTrail writes as sourceIPAddress when a service, not a client, made the call.
_SERVICE_SOURCES = ("AWS Internal",)
_SERVICE_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".amazon.com")


def is_service_source(source: str | None) -> bool:
    """`ec2.amazonaws.com`, `AWS Internal`: the address field names a service."""
    return source is not None and (source in _SERVICE_SOURCES or source.endswith(_SERVICE_SUFFIXES))


def is_service_call(call: ApiCall) -> bool:
    """Made by a cloud service on a principal's behalf (`invokedBy`, or a service as source)."""
    return call.actor.invoked_by is not None or (
        call.source_ip is None and is_service_source(call.source)
    )


def actor_label(actor: Actor) -> str:
    """A short human name for who called: `user christophe`, `role app/i-0abc`, an ARN."""
    if actor.user_name and actor.type == "IAMUser":
        return f"IAM user {actor.user_name}"
    if actor.role_name:
        session = f"/{actor.session_name}" if actor.session_name else ""
        return f"role {actor.role_name}{session}"
    if actor.type == "Root":
        return "the root user"
    return actor.arn or actor.principal_id or actor.access_key_id or "an unknown principal"


def principal_key(actor: Actor) -> str | None:
    """A stable id of the principal whose behaviour is baselined: the user, or the role (not the
    session, whose name changes with every assumption), else whatever id the call carries."""
    if actor.role_name and actor.account_id:
        return f"arn:aws:iam::{actor.account_id}:role/{actor.role_name}"
    return actor.arn or actor.principal_id or actor.access_key_id


def instance_id(index: InventoryIndex, actor: Actor) -> str | None:
    """The instance whose role credentials these are: the parser's finding (a session name that
    looks like an EC2 instance id), else a session name the inventory knows as an instance id
    (the provider's own ids need not be hexadecimal)."""
    if actor.instance_id is not None:
        return actor.instance_id
    if actor.role_name and index.vm_by_instance(actor.session_name) is not None:
        return actor.session_name
    return None


def instance_vm(index: InventoryIndex, call: ApiCall) -> VmRecord | None:
    return index.vm_by_instance(instance_id(index, call.actor))


def credential_tenant(index: InventoryIndex, call: ApiCall) -> str | None:
    """The tenant whose credentials made the call: the caller's account, else the VM whose
    instance role session it is, else the account the call landed in."""
    actor = call.actor
    tenant = index.tenant_of_account(actor.account_id)
    if tenant is None and (vm := instance_vm(index, call)) is not None:
        tenant = vm.tenant
    if tenant is None and actor.account_id is None:
        tenant = index.tenant_of_account(call.account_id)
    return tenant


def vm_ips(index: InventoryIndex, vm: VmRecord) -> frozenset[str]:
    """The addresses the inventory gives a VM."""
    return vm.ips


def resource_owner(call: ApiCall, resource: Resource) -> str | None:
    """The account owning a resource: as the call names it, else the account the call landed in."""
    return resource.account_id or call.account_id


def resource_label(resource: Resource) -> str:
    return f"{resource.type} {resource.id}"


def resource_entity(resource: Resource) -> Entity:
    return Entity("resource", resource.arn or f"{resource.type}:{resource.id}")


def tenants_involved(call: ApiCall) -> frozenset[str]:
    """Every tenant attribution found in the call: the account it landed in, the caller's, the
    source address's, the owners of the resources it names, the grantees."""
    found = set(call.related_tenant_ids)
    if call.tenant_id is not None:
        found.add(call.tenant_id)
    return frozenset(found)
