"""Strict I-JSON (RFC 7493) parsing of request bodies and manifest files.

Checked before the shape, each a :class:`~release_gate.errors.BadRequest` (400):
UTF-8 without a BOM, valid JSON, no duplicate member names at any level, no lone
surrogates, no NaN or Infinity, integers within +-(2^53 - 1), finite floats, and
nesting no deeper than the configured limit. Two parsers must never disagree
about what was signed, so anything ambiguous is refused rather than repaired.
"""

from __future__ import annotations

import json
import re
from typing import Any

from release_gate.errors import BadRequest, FieldError, json_pointer

__all__ = ["MAX_SAFE_INTEGER", "parse_ijson"]

MAX_SAFE_INTEGER = 2**53 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
# A lone surrogate can only arrive as a \uD800-\uDFFF escape (strict UTF-8 decoding
# refuses encoded surrogates), so the tree is searched only when the text has one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _Reject(ValueError):
    """Raised inside the decoder hooks; carries a human-readable reason."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Reject(f"duplicate member name {key!r}")
            seen.add(key)
    return out


_MAX_INT_DIGITS = len(str(MAX_SAFE_INTEGER))
_NONZERO_MANTISSA = re.compile(r"^-?0*\.?0*[1-9]")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Reject(f"integer {text[:40]}... is outside +-(2^53 - 1)")
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise _Reject(f"integer {text[:40]} is outside +-(2^53 - 1)")
    return value


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Reject(f"number {text[:40]} overflows a double")
    if value == 0.0 and _NONZERO_MANTISSA.match(text):
        raise _Reject(f"number {text[:40]} underflows a double to zero")
    return value


def _constant(name: str) -> Any:
    raise _Reject(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_int=_int, parse_float=_float, parse_constant=_constant
)


class _Pairs(list[tuple[str, Any]]):
    """An object's members as parsed, duplicates kept (the error-locating parse)."""


class _Bad:
    """A number or constant the strict parse refuses (the error-locating parse)."""


def _lenient(check: Any) -> Any:
    def hook(text: str) -> Any:
        try:
            return check(text)
        except _Reject:
            return _Bad()

    return hook


_LOCATOR = json.JSONDecoder(
    object_pairs_hook=_Pairs,
    parse_int=_lenient(_int),
    parse_float=_lenient(_float),
    parse_constant=_lenient(_constant),
)


def _first_problem(node: Any, path: list[str | int]) -> list[str | int] | None:
    """Where the strict parse stopped: children before their object, as the decoder goes."""
    if isinstance(node, _Bad):
        return path
    if isinstance(node, _Pairs):
        for key, value in node:
            found = _first_problem(value, [*path, key])
            if found is not None:
                return found
        seen: set[str] = set()
        for key, _ in node:
            if key in seen:
                return [*path, key]
            seen.add(key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _first_problem(value, [*path, index])
            if found is not None:
                return found
    return None


def _locate(text: str) -> str:
    """The pointer of the member or number the strict parse refused; "" if not found."""
    try:
        found = _first_problem(_LOCATOR.decode(text), [])
    except (ValueError, RecursionError):
        return ""
    return "" if found is None else json_pointer(found)


def _depth(value: Any) -> int:
    """Nesting depth of a parsed value, level by level (no paths: this is the hot path)."""
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
    return depth


def _too_deep(max_depth: int, path: list[str | int]) -> BadRequest:
    detail = f"nesting deeper than {max_depth} levels"
    return BadRequest(detail, errors=(FieldError(json_pointer(path), detail),))


def _check_depth(value: Any, max_depth: int) -> None:
    """Iteratively check nesting depth, visiting containers only."""
    stack: list[tuple[Any, int, list[str | int]]] = [(value, 1, [])]
    while stack:
        node, depth, path = stack.pop()
        if depth > max_depth:
            raise _too_deep(max_depth, path)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend(
            (child, depth + 1, [*path, key])
            for key, child in items
            if isinstance(child, dict | list)
        )


def _check_surrogates(value: Any) -> None:
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                detail = "string holds a lone surrogate"
                raise BadRequest(detail, errors=(FieldError(json_pointer(path), detail),))
        elif isinstance(node, dict | list):
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str) and _SURROGATE.search(key):
                    detail = "member name holds a lone surrogate"
                    raise BadRequest(detail, errors=(FieldError(json_pointer(path), detail),))
                stack.append((child, [*path, key]))


def parse_ijson(body: bytes, *, max_depth: int) -> Any:
    """Parse ``body`` as I-JSON or raise :class:`BadRequest` saying why."""
    if body.startswith(b"\xef\xbb\xbf"):
        raise BadRequest(
            "body starts with a byte order mark", errors=(FieldError("", "BOM not allowed"),)
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"body is not UTF-8 (byte {exc.start})"
        raise BadRequest(detail, errors=(FieldError("", detail),)) from exc
    try:
        value = _DECODER.decode(text)
    except _Reject as exc:
        errors = (FieldError(_locate(text), str(exc)),)
        raise BadRequest(f"not I-JSON: {exc}", errors=errors) from exc
    except RecursionError as exc:
        detail = f"nesting deeper than {max_depth} levels"
        raise BadRequest(detail, errors=(FieldError("", detail),)) from exc
    except json.JSONDecodeError as exc:
        detail = f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise BadRequest(detail, errors=(FieldError("", detail),)) from exc
    too_many = text.count("[") + text.count("{") > max_depth
    if too_many and isinstance(value, dict | list) and _depth(value) > max_depth:
        _check_depth(value, max_depth)  # finds where, for the error's pointer
    if _SURROGATE_ESCAPE.search(text):
        _check_surrogates(value)
    return value
