"""Reading a JSON request body: media type and content coding (415), size (413), then raw bytes.

The I-JSON checks (400) happen in :mod:`release_gate.decision.parse`, on the bytes;
:func:`read_model` adds the shape of a request other than a manifest (422).
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from release_gate.decision.parse import parse_ijson
from release_gate.errors import (
    BadRequest,
    FieldError,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    json_pointer,
)

__all__ = ["check_content_encoding", "check_media_type", "read_body", "read_model"]

_Model = TypeVar("_Model", bound=BaseModel)


def check_media_type(content_type: str | None) -> None:
    """Accept ``application/json`` or ``application/<x>+json``, charset UTF-8 only.

    Any ``+json`` type is accepted, as the contract says: the body is then
    checked as I-JSON and as a manifest like any other (a JSON Patch, an array,
    is a 422).
    """
    if not content_type:
        raise UnsupportedMediaType("Content-Type must be application/json")
    media, *params = (part.strip() for part in content_type.split(";"))
    media = media.lower()
    kind, _, subtype = media.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise UnsupportedMediaType(f"Content-Type {media!r} is not application/json")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
            if charset not in ("utf-8", "utf8"):
                raise UnsupportedMediaType(f"charset {charset!r} is not UTF-8")


def check_content_encoding(content_encoding: str | None) -> None:
    """Only an unencoded body: a compressed one would be read as if it were plain (415)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    unsupported = [c for c in codings if c != "identity"]
    if unsupported:
        raise UnsupportedMediaType(
            f"Content-Encoding {', '.join(unsupported)} is not supported; send the body unencoded"
        )


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The body, refused early (413) when it is over ``max_bytes``."""
    check_media_type(request.headers.get("content-type"))
    check_content_encoding(request.headers.get("content-encoding"))
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest(
                "Content-Length is not a number", errors=(FieldError("", "bad Content-Length"),)
            )
        if int(declared) > max_bytes:
            raise PayloadTooLarge(f"body is {declared} bytes; the limit is {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"body is over the limit of {max_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise BadRequest(
            "the body ended before its declared length (client disconnected)",
            errors=(FieldError("", "incomplete body"),),
        ) from exc
    return b"".join(chunks)


async def read_model(
    request: Request,
    model: type[_Model],
    *,
    max_bytes: int,
    max_depth: int,
    error: type[InvalidRequest] = InvalidRequest,
) -> _Model:
    """The body as ``model``: 400 if not I-JSON, else ``error`` (an :class:`InvalidRequest`,
    422) naming every field that does not fit."""
    body = await read_body(request, max_bytes=max_bytes)
    document = parse_ijson(body, max_depth=max_depth)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = tuple(
            FieldError(json_pointer(list(e["loc"])), e["msg"])
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise error(error.title[:1].lower() + error.title[1:], errors=errors) from exc
