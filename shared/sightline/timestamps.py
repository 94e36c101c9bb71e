"""RFC 3339 UTC timestamps with milliseconds, as the seed writes them.

Example:
    >>> from datetime import datetime, timezone
    >>> format_timestamp(datetime(2025, 1, 15, 14, 30, 22, 123456, tzinfo=timezone.utc))
    '2025-01-15T14:30:22.123Z'
    >>> stamp = format_timestamp(datetime(999, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    >>> stamp, parse_timestamp(stamp).year
    ('0999-01-02T03:04:05.000Z', 999)
    >>> from zoneinfo import ZoneInfo
    >>> in_zone(parse_timestamp("9999-12-31T23:30:00Z"), ZoneInfo("Europe/Berlin")).tzname()
    'UTC'
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def utc_now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC."""
    if moment.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (use UTC, e.g. ...Z)")
    # isoformat, not strftime: a four-digit year always (glibc's %Y writes the year 999 as
    # "999", which no RFC 3339 reader takes back), and faster (2 against 4 us).
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` in ``zone`` for people to read; in UTC when ``zone``'s offset would take it
    past what a datetime holds (the first hours of the year 1, the last of 9999: valid in a
    message, so a clock that far off must not stop a notifier or a frame-store)."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return moment.astimezone(UTC)


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with a zone into an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone (expected e.g. ...Z)")
    return moment.astimezone(UTC)
