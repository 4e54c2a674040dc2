"""A cached, rate-limited source of the gate's signing keys (its JWKS).

:class:`JWKSFetcher` serves :func:`~release_gate_client.verify_token` through
``get_key(kid)``. It fetches ``/.well-known/jwks.json`` on first use, again
when the copy is older than ``max_age``, and once more when a token names a
``kid`` it does not know (a key rotation), but never more than one request per
``min_refresh_interval``, counting failed attempts too: a flood of tokens with
made-up ``kid`` values costs the gate at most one request per interval.

A failed fetch keeps the last good key set. With no key set at all it raises
:class:`~release_gate_client.GateUnavailable` (the verdict is then "cannot
verify", never "valid").

Thread-safe: fetches are serialised by a lock and the cached state is one
immutable object swapped whole, so lookups never wait on the network while a
fresh copy is held.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from release_gate_client.errors import GateUnavailable, KeySetError
from release_gate_client.jwk import load_jwks

__all__ = ["MAX_JWKS_BYTES", "JWKSFetcher"]

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1 << 20
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class _State:
    keys: Mapping[str, Ed25519PublicKey] | None = None
    fetched_at: float = -math.inf
    attempted_at: float = -math.inf
    last_error: str = ""


class JWKSFetcher:
    """Fetch, cache and refresh a JWKS from ``url`` (see the module docs)."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client | None = None,
        max_age: float = 300,
        min_refresh_interval: float = 30,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_age > 0 or not min_refresh_interval >= 0:
            raise ValueError("max_age must be > 0 and min_refresh_interval >= 0")
        owned = client is None
        self._setup(
            url=_checked_url(url),
            client=httpx.Client(timeout=timeout) if client is None else client,
            owns_client=owned,
            max_age=max_age,
            min_interval=min_refresh_interval,
            clock=clock,
            state=_State(),
        )

    def _setup(
        self,
        *,
        url: str | None,
        client: httpx.Client | None,
        owns_client: bool,
        max_age: float,
        min_interval: float,
        clock: Callable[[], float],
        state: _State,
    ) -> None:
        self._url = url
        self._client = client
        self._owns_client = owns_client
        self._max_age = max_age
        self._min_interval = min_interval
        self._clock = clock
        self._state = state
        self._fetch_lock = threading.Lock()

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | str | bytes) -> JWKSFetcher:
        """A fixed key set that never touches the network."""
        fetcher = cls.__new__(cls)
        fetcher._setup(
            url=None,
            client=None,
            owns_client=False,
            max_age=math.inf,
            min_interval=math.inf,
            clock=time.monotonic,
            state=_State(keys=load_jwks(doc), fetched_at=math.inf),
        )
        return fetcher

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> JWKSFetcher:
        """A fixed key set read from a JWKS JSON file."""
        with open(path, "rb") as handle:
            return cls.from_document(handle.read())

    @property
    def url(self) -> str | None:
        """Where keys come from; ``None`` for a fixed key set."""
        return self._url

    def get_key(self, kid: str) -> Ed25519PublicKey | None:
        """The key named ``kid``, refreshing (rate-limited) when it is unknown."""
        key = self.keys().get(kid)
        if key is None and self._url is not None:
            key = self._refresh(unknown_kid=True).get(kid)
        return key

    def keys(self) -> dict[str, Ed25519PublicKey]:
        """The current key set, fetched first if missing or older than ``max_age``."""
        state = self._state
        if state.keys is not None and not self._stale(state, self._clock()):
            return dict(state.keys)
        return dict(self._refresh(unknown_kid=False))

    def close(self) -> None:
        """Close the HTTP client if this fetcher created it."""
        if self._owns_client and self._client is not None:
            self._client.close()

    def __enter__(self) -> JWKSFetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _stale(self, state: _State, now: float) -> bool:
        return self._url is not None and now - state.fetched_at >= self._max_age

    def _refresh(self, *, unknown_kid: bool) -> Mapping[str, Ed25519PublicKey]:
        with self._fetch_lock:
            state, now = self._state, self._clock()
            if self._url is None or self._client is None:
                return _cached_or_raise(state)
            if state.keys is not None and not unknown_kid and not self._stale(state, now):
                return state.keys  # another thread refreshed while we waited
            if now - state.attempted_at < self._min_interval:
                return _cached_or_raise(state)
            try:
                keys = _fetch(self._client, self._url)
            except (GateUnavailable, KeySetError) as exc:
                self._state = _State(state.keys, state.fetched_at, now, str(exc))
                if state.keys is None:
                    raise GateUnavailable(f"no JWKS available: {exc}") from exc
                logger.warning("JWKS refresh failed, keeping cached keys: %s", exc)
                return state.keys
            self._state = _State(keys, now, now)
            return keys


def _fetch(client: httpx.Client, url: str) -> dict[str, Ed25519PublicKey]:
    headers = {"Accept": "application/json"}
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise GateUnavailable(
                    f"JWKS answered HTTP {response.status_code}", status=response.status_code
                )
            body = _read_capped(response)
    except httpx.HTTPError as exc:
        raise GateUnavailable(f"JWKS fetch failed: {type(exc).__name__}: {exc}") from exc
    return load_jwks(body)


def _cached_or_raise(state: _State) -> Mapping[str, Ed25519PublicKey]:
    if state.keys is None:
        raise GateUnavailable(f"no JWKS available (last attempt: {state.last_error})")
    return state.keys


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_JWKS_BYTES:
            raise KeySetError(f"JWKS is larger than {MAX_JWKS_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _checked_url(url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"JWKS URL must be absolute http(s): {url!r}")
    if parsed.scheme == "http" and parsed.host not in _LOOPBACK:
        logger.warning("JWKS URL %s is plain http: keys can be swapped in transit", url)
    return url
