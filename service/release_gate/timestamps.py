"""Strict RFC 3339 timestamps, as the contract profiles them, to integer instants.

``YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)``: uppercase ``T`` and ``Z``,
years 0001-9999, no leap second, offsets -23:59..+23:59. Instants are integer
nanoseconds since the Unix epoch, so any offset compares exactly; Python's
``datetime`` is avoided because it cannot hold nanoseconds or year 0 in UTC.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["format_ns", "parse_timestamp_ns"]

_PATTERN = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_NS = 1_000_000_000


_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS[month]


def _offset_seconds(text: str) -> int:
    if text == "Z":
        return 0
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range (-23:59 to +23:59)")
    return -(hours * 3600 + minutes * 60) if text[0] == "-" else hours * 3600 + minutes * 60


def parse_timestamp_ns(text: str) -> int:
    """Return the instant ``text`` names, in ns since the epoch; ValueError if malformed."""
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError("not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM))")
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    hour, minute, second = int(match[4]), int(match[5]), int(match[6])
    if year < 1:
        raise ValueError("year must be 0001-9999")
    if not 1 <= month <= 12:
        raise ValueError("month out of range")
    if not 1 <= day <= _days_in_month(year, month):
        raise ValueError("day out of range for the month")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("time of day out of range (no leap seconds)")
    days = dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - _offset_seconds(match[8])
    fraction = match[7]
    return seconds * _NS + (int(fraction.ljust(9, "0")) if fraction else 0)


def format_ns(instant_ns: int) -> str:
    """Format an instant as RFC 3339 UTC with microseconds (``...T09:00:00.123456Z``)."""
    seconds, ns = divmod(instant_ns, _NS)
    when = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).replace(microsecond=ns // 1000)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
