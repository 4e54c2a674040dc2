"""Strict RFC 3339 timestamps, as the contract profiles them, to integer instants.

``YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)``: uppercase ``T`` and ``Z``,
years 0001-9999, no leap second, offsets -23:59..+23:59. Instants are integer
nanoseconds since the Unix epoch, so any offset compares exactly; Python's
``datetime`` is avoided because it cannot hold nanoseconds or year 0 in UTC.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

__all__ = ["format_ns", "parse_timestamp_ns"]

_PATTERN = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_NS = 1_000_000_000


def _offset_seconds(text: str) -> int:
    if text == "Z":
        return 0
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range (-23:59 to +23:59)")
    sign = -1 if text[0] == "-" else 1
    return sign * (hours * 3600 + minutes * 60)


def parse_timestamp_ns(text: str) -> int:
    """Return the instant ``text`` names, in ns since the epoch; ValueError if malformed."""
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError("not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM))")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year < 1:
        raise ValueError("year must be 0001-9999")
    if not 1 <= month <= 12:
        raise ValueError("month out of range")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise ValueError("day out of range for the month")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("time of day out of range (no leap seconds)")
    offset = _offset_seconds(match.group(8))
    days = dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    fraction = match.group(7) or ""
    return seconds * _NS + int(fraction.ljust(9, "0") or "0")


def format_ns(instant_ns: int) -> str:
    """Format an instant as RFC 3339 UTC with microseconds (``...T09:00:00.123456Z``)."""
    seconds, ns = divmod(instant_ns, _NS)
    when = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).replace(microsecond=ns // 1000)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
