"""``policies/`` as an OPA bundle: a tarball, its signature, or a push through OPA's APIs.

:func:`build_bundle` writes a gzip tarball OPA loads with ``opa run --bundle`` or
downloads from a bundle server: ``.manifest`` (``revision`` and ``roots`` from
``policies/.manifest``, plus ``metadata.release_gate.policy_digest``), every
policy module and ``data.json`` at its path, tests excluded. The same tree gives
the same bytes: entries sorted, mtimes 0, owners blank, no name or time in the
gzip header.

Signing follows OPA's bundle signature format: ``.signatures.json`` is
``{"signatures": [JWT]}``, the JWT's payload ``{"files": [{"name", "hash",
"algorithm": "SHA-256"}], "keyid", "scope"}`` listing every other file. OPA
hashes a policy module over its bytes, and a structured file (``data.json``,
``.manifest``) over a canonical form of its parsed value: objects with keys
sorted, no whitespace, strings encoded as Go's ``encoding/json`` does without
HTML escaping, numbers written exactly as in the file (OPA parses them as
``json.Number``). :func:`opa_file_hash` reproduces that. OPA verifies RS*, PS*,
ES* and HS* signatures only (no EdDSA), so the key is an RSA or EC (P-256,
P-384, P-521) PEM, signed RS256 or ES256/384/512; an Ed25519 key is refused.

:func:`push_bundle` loads the same modules and data through OPA's policy and
data APIs instead (no revision in provenance: see ``policy_source="api"`` of
:class:`~release_gate.policy.opa.OpaEngine`); :func:`pushed_mismatch` checks
what OPA holds against the bundle.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from release_gate.errors import ConfigurationError
from release_gate.policy.bundle import PolicyBundle, load_bundle

__all__ = [
    "build_bundle",
    "bundle_files",
    "opa_file_hash",
    "push_bundle",
    "pushed_mismatch",
    "remove_pushed",
    "signing_algorithm",
]

_EC_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


class _Number(str):
    """A JSON number kept as its literal text, as Go's ``json.Number``."""

    __slots__ = ()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _go_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\ufffd")  # Go decodes a lone surrogate escape to U+FFFD
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_walk(value: Any, out: list[str]) -> None:
    """OPA's ``bundle.walk``: the canonical text its SignatureHasher hashes."""
    if isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            out.append("," if i else "")
            out.append(_go_string(key) + ":")
            _go_walk(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            _go_walk(item, out)
        out.append("]")
    elif isinstance(value, _Number):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(_go_string(value))
    else:
        out.append({True: "true", False: "false", None: "null"}[value])


def opa_file_hash(name: str, content: bytes) -> str:
    """Hex SHA-256 of a bundle file as OPA computes it to verify a signature."""
    if Path(name).name not in ("data.json", ".manifest"):
        return hashlib.sha256(content).hexdigest()
    value = json.loads(
        content.decode("utf-8"),
        parse_int=_Number,
        parse_float=_Number,
        parse_constant=_no_constant,
    )
    out: list[str] = []
    _go_walk(value, out)
    return hashlib.sha256("".join(out).encode("utf-8")).hexdigest()


def bundle_files(bundle: PolicyBundle) -> dict[str, bytes]:
    """Every file of the OPA bundle (unsigned), by its path in the tarball."""
    manifest = {
        "metadata": {"release_gate": {"policy_digest": bundle.digest}},
        "revision": bundle.revision,
        "roots": list(bundle.roots),
    }
    files = {".manifest": (json.dumps(manifest, indent=2) + "\n").encode("utf-8")}
    for path, text in {**bundle.modules, **bundle.data_files}.items():
        files[path] = text.encode("utf-8")
    return dict(sorted(files.items()))


def signing_algorithm(key: Any) -> str:
    """The JWS algorithm OPA can verify for ``key`` (RS256, ES256/384/512)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _EC_ALGS:
        return _EC_ALGS[key.curve.name]
    raise ConfigurationError(
        "OPA verifies bundle signatures made with RSA or EC (P-256, P-384, P-521) keys "
        f"only, not {type(key).__name__}"
    )


def _signatures(
    files: dict[str, bytes], signing_key: Path, key_id: str | None, scope: str | None
) -> bytes:
    try:
        key = load_pem_private_key(signing_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot read signing key {signing_key}: {exc}") from exc
    payload: dict[str, Any] = {
        "files": [
            {"name": name, "hash": opa_file_hash(name, data), "algorithm": "SHA-256"}
            for name, data in files.items()
        ]
    }
    if key_id:
        payload["keyid"] = key_id
    if scope:
        payload["scope"] = scope
    headers = {"kid": key_id} if key_id else None
    token = jwt.encode(payload, key, algorithm=signing_algorithm(key), headers=headers)  # type: ignore[arg-type]
    return (json.dumps({"signatures": [token]}, indent=2) + "\n").encode("utf-8")


def _tarball(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def build_bundle(
    policy_dir: Path,
    out: Path,
    *,
    signing_key: Path | None,
    key_id: str | None,
    scope: str | None = None,
) -> Path:
    """Write ``policy_dir`` as an OPA bundle tarball at ``out``; sign it with ``signing_key``."""
    files = bundle_files(load_bundle(policy_dir))
    if signing_key is not None:
        files[".signatures.json"] = _signatures(files, signing_key, key_id, scope)
    elif key_id or scope:
        raise ConfigurationError("--key-id and a scope need --signing-key")
    try:
        out.write_bytes(_tarball(files))
    except OSError as exc:
        raise ConfigurationError(f"cannot write bundle {out}: {exc}") from exc
    return out


# -- loading OPA through its policy and data APIs (policy_source="api") ----


def _until_settled(items: Iterable[str], attempt: Callable[[str], str | None]) -> None:
    """Apply ``attempt`` to every item, retrying those that fail while others succeed.

    OPA compiles all its modules on every change, so a module that calls into
    one not yet loaded (or still needed) is refused until the order works out.
    """
    pending, errors = list(items), {}
    while pending:
        errors = {item: error for item in pending if (error := attempt(item))}
        if len(errors) == len(pending):
            detail = "; ".join(f"{item}: {error}" for item, error in sorted(errors.items()))
            raise ConfigurationError(f"OPA refused the policies: {detail}")
        pending = list(errors)


def _answer(response: httpx.Response, *ok: int) -> str | None:
    return None if response.status_code in ok else f"HTTP {response.status_code} {response.text}"


def push_bundle(http: httpx.Client, bundle: PolicyBundle) -> None:
    """Load ``bundle``'s modules (``PUT /v1/policies/<path>``) and data into OPA."""
    _until_settled(
        sorted(bundle.data),
        lambda key: _answer(http.put(f"/v1/data/{key}", json=bundle.data[key]), 204),
    )
    _until_settled(
        sorted(bundle.modules),
        lambda path: _answer(
            http.put(
                f"/v1/policies/{path}",
                content=bundle.modules[path].encode("utf-8"),
                headers={"Content-Type": "text/plain"},
            ),
            200,
        ),
    )


def remove_pushed(http: httpx.Client, bundle: PolicyBundle) -> None:
    """Delete what :func:`push_bundle` loaded."""
    _until_settled(
        sorted(bundle.modules),
        lambda path: _answer(http.delete(f"/v1/policies/{path}"), 200, 404),
    )
    _until_settled(
        sorted(bundle.data), lambda key: _answer(http.delete(f"/v1/data/{key}"), 204, 404)
    )


def pushed_mismatch(http: httpx.Client, bundle: PolicyBundle) -> str | None:
    """What differs between OPA's policies and data and ``bundle`` (None when nothing)."""
    response = http.get("/v1/policies")
    response.raise_for_status()
    held = {p.get("id"): p.get("raw") for p in response.json().get("result", [])}
    for path, text in sorted(bundle.modules.items()):
        if held.get(path) != text:
            return f"OPA does not hold policy module {path} as the gate has it"
    for key, value in sorted(bundle.data.items()):
        answer = http.get(f"/v1/data/{key}")
        answer.raise_for_status()
        result = answer.json().get("result")
        if json.dumps(result, sort_keys=True) != json.dumps(value, sort_keys=True):
            return f"OPA's data.{key} differs from the gate's"
    return None
