"""The TAXII 2.1 endpoints: discovery, the one API root `fenghuo`, its collections, their
objects, manifests and versions, and the status resources of POSTs.

Pages are the store's keyset pages (`ObjectRepository.page`): `next` is the store's cursor,
`more` is true exactly when `next` is given, and `X-TAXII-Date-Added-First`/`-Last` carry the
date added of the first and last object of the page, so a client may resume with
`added_after` = the last page's `-Last` and get exactly what was added since.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from fenghuo.intel.collections import Collection
from fenghuo.intel.objects import (
    MAX_PAGE,
    ObjectPage,
    ObjectStoreError,
    StatusDetail,
    StoredObject,
    TaxiiStatus,
    check_object,
    format_timestamp,
    object_version,
)
from fenghuo.intel.taxii.auth import (
    TaxiiCaller,
    can_write,
    sees_every_status,
    services_of,
    visible,
)
from fenghuo.intel.taxii.http import (
    STIX_MEDIA_TYPE,
    TAXII_MEDIA_TYPE,
    TaxiiError,
    negotiate,
    require_taxii_content,
    taxii_response,
)
from fenghuo.intel.taxii.params import (
    DELETE_PARAMS,
    OBJECT_PARAMS,
    VERSIONS_PARAMS,
    PageRequest,
    page_request,
)
from fenghuo.store.keys import ApiKey, Role

API_ROOT = "fenghuo"
ROOT_PATH = f"/{API_ROOT}"
_ENVELOPE_TYPES = (TAXII_MEDIA_TYPE, STIX_MEDIA_TYPE)
CollectionId = Annotated[str, Path(max_length=100)]
ObjectId = Annotated[str, Path(max_length=300)]

router = APIRouter()


def _object_not_found() -> TaxiiError:
    return TaxiiError(404, "Not found", "the object is not in this collection")


def _collection(request: Request, key: ApiKey, collection_id: str) -> Collection:
    return visible(services_of(request).store.collections.get(collection_id), key)


def _page(request: Request, collection_id: str, asked: PageRequest) -> ObjectPage:
    try:
        return services_of(request).store.objects.page(
            collection_id, asked.query, limit=asked.limit, cursor=asked.cursor
        )
    except ObjectStoreError as exc:
        raise TaxiiError(400, "Bad request", str(exc)) from None


def _paged(page: ObjectPage, field: str, items: list[Any], media_type: str) -> Response:
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next
    body[field] = items
    headers: dict[str, str] = {}
    if page.objects:
        headers["X-TAXII-Date-Added-First"] = format_timestamp(page.objects[0].date_added)
        headers["X-TAXII-Date-Added-Last"] = format_timestamp(page.objects[-1].date_added)
    return taxii_response(body, media_type=media_type, headers=headers)


def _resource(collection: Collection, key: ApiKey) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": collection.id, "title": collection.title}
    if collection.description:
        doc["description"] = collection.description
    if collection.alias:
        doc["alias"] = collection.alias
    doc.update(can_read=True, can_write=can_write(collection, key), media_types=[STIX_MEDIA_TYPE])
    return doc


@router.get("/")
def discovery(request: Request, _key: TaxiiCaller) -> Response:
    negotiate(request)
    root = f"/taxii2{ROOT_PATH}/"
    return taxii_response(
        {
            "title": "Fenghuo TAXII server",
            "description": "Incidents of a multi-tenant cloud as STIX 2.1, for regulators and"
            " tenants' security teams (the collections granted to the caller's key).",
            "default": root,
            "api_roots": [root],
        }
    )


@router.get(f"{ROOT_PATH}/")
def api_root(request: Request, _key: TaxiiCaller) -> Response:
    negotiate(request)
    return taxii_response(
        {
            "title": "Fenghuo incidents",
            "description": f"Fenghuo's collections. Pages hold at most {MAX_PAGE} objects: a"
            f" larger limit is served as {MAX_PAGE}. `next` cursors never expire.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": services_of(request).settings.api_max_body_bytes,
        }
    )


@router.get(f"{ROOT_PATH}/collections/")
def collections(request: Request, key: TaxiiCaller) -> Response:
    negotiate(request)
    found = services_of(request).store.collections.list()
    return taxii_response({"collections": [_resource(c, key) for c in found if c.readable_by(key)]})


@router.get(f"{ROOT_PATH}/collections/{{collection_id}}/")
def collection(request: Request, collection_id: CollectionId, key: TaxiiCaller) -> Response:
    found = _collection(request, key, collection_id)
    negotiate(request)
    return taxii_response(_resource(found, key))


def _manifest_entry(stored: StoredObject) -> dict[str, str]:
    return {
        "id": stored.id,
        "date_added": format_timestamp(stored.date_added),
        "version": stored.version,
        "media_type": stored.media_type,
    }


@router.get(f"{ROOT_PATH}/collections/{{collection_id}}/manifest/")
def manifest(request: Request, collection_id: CollectionId, key: TaxiiCaller) -> Response:
    _collection(request, key, collection_id)
    media_type = negotiate(request)
    page = _page(request, collection_id, page_request(request))
    return _paged(page, "objects", [_manifest_entry(o) for o in page.objects], media_type)


@router.get(f"{ROOT_PATH}/collections/{{collection_id}}/objects/")
def get_objects(request: Request, collection_id: CollectionId, key: TaxiiCaller) -> Response:
    _collection(request, key, collection_id)
    media_type = negotiate(request, _ENVELOPE_TYPES)
    page = _page(request, collection_id, page_request(request))
    return _paged(page, "objects", [o.body for o in page.objects], media_type)


@router.get(f"{ROOT_PATH}/collections/{{collection_id}}/objects/{{object_id}}/")
def get_object(
    request: Request, collection_id: CollectionId, object_id: ObjectId, key: TaxiiCaller
) -> Response:
    _collection(request, key, collection_id)
    media_type = negotiate(request, _ENVELOPE_TYPES)
    asked = page_request(request, object_id=object_id, allowed=OBJECT_PARAMS)
    page = _page(request, collection_id, asked)
    if not page.objects and not services_of(request).store.objects.latest(
        collection_id, [object_id]
    ):
        raise _object_not_found()
    return _paged(page, "objects", [o.body for o in page.objects], media_type)


@router.get(f"{ROOT_PATH}/collections/{{collection_id}}/objects/{{object_id}}/versions/")
def object_versions(
    request: Request, collection_id: CollectionId, object_id: ObjectId, key: TaxiiCaller
) -> Response:
    _collection(request, key, collection_id)
    media_type = negotiate(request)
    asked = page_request(request, object_id=object_id, versions=("all",), allowed=VERSIONS_PARAMS)
    page = _page(request, collection_id, asked)
    if not page.objects and not services_of(request).store.objects.latest(
        collection_id, [object_id]
    ):
        raise _object_not_found()
    return _paged(page, "versions", [o.version for o in page.objects], media_type)


@router.delete(f"{ROOT_PATH}/collections/{{collection_id}}/objects/{{object_id}}/")
def delete_object(
    request: Request, collection_id: CollectionId, object_id: ObjectId, key: TaxiiCaller
) -> Response:
    """Admins only; every version unless `match[version]` narrows it."""
    _collection(request, key, collection_id)
    if key.role is not Role.ADMIN:
        raise TaxiiError(403, "Forbidden", f"role {key.role.value} may not delete objects")
    media_type = negotiate(request)
    asked = page_request(request, object_id=object_id, versions=("all",), allowed=DELETE_PARAMS)
    if not services_of(request).store.objects.delete(collection_id, asked.query):
        raise _object_not_found()
    return Response(b"", status_code=200, media_type=media_type)


def _envelope_objects(raw: bytes) -> list[Any]:
    try:
        envelope = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise TaxiiError(400, "Bad request", f"the body is not JSON: {exc}") from None
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    if not isinstance(objects, list):
        raise TaxiiError(400, "Bad request", 'the body must be an envelope {"objects": [...]}')
    return objects


def _add(request: Request, collection_id: str, key: ApiKey, objects: list[Any]) -> TaxiiStatus:
    """Store the valid objects (already-held versions count as successes: a retried POST) and
    record the status resource of the request."""
    store = services_of(request).store
    good: list[dict[str, Any]] = []
    failures: list[StatusDetail] = []
    for obj in objects:
        problem = check_object(obj)
        if problem is None:
            good.append(obj)
            continue
        object_id = obj.get("id") if isinstance(obj, dict) else None
        version = object_version(obj) if isinstance(obj, dict) else None
        failures.append(
            StatusDetail(id=str(object_id or ""), version=version or "", message=problem)
        )
    added = {o.id: o for o in store.objects.append(collection_id, good)} if good else {}
    held = store.objects.latest(collection_id, [o["id"] for o in good if o["id"] not in added])
    successes = []
    for obj in good:
        version = object_version(obj)
        if version is None:
            stored = added.get(obj["id"]) or held.get(obj["id"])
            version = stored.version if stored is not None else ""
        successes.append(StatusDetail(id=obj["id"], version=version))
    status = TaxiiStatus(
        id=str(uuid.uuid4()),
        collection_id=collection_id,
        key_id=key.id,
        request_timestamp=dt.datetime.now(dt.UTC),
        total_count=len(objects),
        success_count=len(successes),
        failure_count=len(failures),
        successes=tuple(successes),
        failures=tuple(failures),
    )
    return store.taxii_status.create(status)


def status_resource(status: TaxiiStatus) -> dict[str, Any]:
    doc = msgspec.to_builtins(status)
    for private in ("collection_id", "key_id"):
        doc.pop(private)
    doc["request_timestamp"] = format_timestamp(status.request_timestamp)
    for field in ("successes", "failures"):
        for detail in doc[field]:
            if not detail.get("message"):
                detail.pop("message", None)
    doc["pendings"] = []
    return dict(doc)


@router.post(f"{ROOT_PATH}/collections/{{collection_id}}/objects/")
async def add_objects(request: Request, collection_id: CollectionId, key: TaxiiCaller) -> Response:
    found = await run_in_threadpool(_collection, request, key, collection_id)
    if not can_write(found, key):
        raise TaxiiError(403, "Forbidden", "this collection does not accept objects from this key")
    require_taxii_content(request)
    negotiate(request)
    objects = _envelope_objects(await request.body())
    try:
        status = await run_in_threadpool(_add, request, collection_id, key, objects)
    except ObjectStoreError as exc:
        raise TaxiiError(422, "Objects not stored", str(exc)) from None
    return taxii_response(status_resource(status), status=202)


@router.get(f"{ROOT_PATH}/status/{{status_id}}/")
def get_status(
    request: Request, status_id: Annotated[str, Path(max_length=100)], key: TaxiiCaller
) -> Response:
    found = services_of(request).store.taxii_status.get(status_id)
    if found is None or not (sees_every_status(key) or found.key_id == key.id):
        raise TaxiiError(404, "Not found", "no such status resource for this key")
    negotiate(request)
    return taxii_response(status_resource(found))
