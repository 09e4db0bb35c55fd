"""Clock readings: dates and times an output printed while its run ran.

A run that prints ``datetime.now()``, a statsmodels summary (``Date: Tue, 01
Dec 2026`` / ``Time: 14:03:27``), an SVG's ``<dc:date>`` or a log's timestamps
shows the moment it ran, not a result. A date or time is a clock reading when
the moment it names, at the precision it is printed, overlaps the window of
its own run (``repropack.compare.context.Window``); two differing texts are
still equal when each is a clock reading of its own run. A date outside its
run's window (a date in the data, or a forged one) is compared like any text.

Recognised shapes (``READING``), each optionally followed by a time and a zone
where it says so:

- ISO 8601: ``2026-12-01``, ``2026-12-01T14:03:27.123456``, ``2026-12-01 14:03:27,123`` (logging),
  with ``Z``, ``UTC``, ``GMT`` or an offset like ``+01:00`` / ``-0500``;
- day month year: ``Tue, 01 Dec 2026`` (statsmodels, RFC 2822: ``01 Dec 2026 14:03:27 +0000``);
- month day year: ``Dec 1, 2026``, ``December 1 2026 14:03``, and ``ctime``: ``Tue Dec  1 14:03:27 2026``;
- numeric: ``01/12/2026`` or ``12/01/2026`` (either order is tried);
- a time alone: ``14:03:27``, ``14:03:27.123``, ``14:03``.

Precision: ``14:03`` covers that whole minute, a date alone its whole day, a
fraction of a second its last printed digit. Time zones: a reading with a
zone names one moment; a naive one is the kernel's local time, which need not
be the comparing host's (export and replay may run in different zones), so
any UTC offset from -12:00 to +14:00 in quarter hours is accepted (whole hours
for a bare ``HH:MM``, the weakest shape). That is generous on purpose: a
changed value is tolerated only when *both* sides are readings of their own,
different, runs, which a date in the data practically never is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from repropack.compare.context import Window

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_WEEKDAY = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+)?"


def _time(tag: str) -> str:
    return (
        rf"(?P<{tag}H>[01]\d|2[0-3]):(?P<{tag}M>[0-5]\d)"
        rf"(?::(?P<{tag}S>[0-5]\d|60)(?:[.,](?P<{tag}F>\d{{1,9}}))?)?"
        rf"(?:\s?(?P<{tag}Z>Z|UTC|GMT|[+-](?:[01]\d|2[0-3]):?[0-5]\d)(?![\w:]))?"
    )


_SHAPES = (
    # ISO 8601 date, optionally with a time.
    rf"(?P<iY>\d{{4}})-(?P<im>[01]\d)-(?P<id>[0-3]\d)(?:[T ]{_time('i')})?",
    # Day month year (RFC 2822, statsmodels' "Tue, 01 Dec 2026").
    rf"{_WEEKDAY}(?P<rd>[0-3]?\d)\s(?P<rmon>{_MONTH})\.?\s(?P<rY>\d{{4}})(?:,?\s+{_time('r')})?",
    # ctime and `date`: "Tue Dec  1 14:03:27 2026".
    rf"{_WEEKDAY}(?P<cmon>{_MONTH})\s+(?P<cd>[0-3]?\d)\s+{_time('c')}\s+(?P<cY>\d{{4}})",
    # Month day year: "Dec 1, 2026", "December 1 2026 14:03".
    rf"{_WEEKDAY}(?P<mmon>{_MONTH})\.?\s+(?P<md>[0-3]?\d),?\s+(?P<mY>\d{{4}})(?:,?\s+{_time('m')})?",
    # Numeric day and month in either order: "01/12/2026".
    rf"(?P<na>[0-3]?\d)/(?P<nb>[0-3]?\d)/(?P<nY>\d{{4}})(?:,?\s+{_time('n')})?",
    # A time alone.
    _time("t"),
)

#: Any recognised date or time, not inside a longer run of digits, letters or clock separators.
#: (Every shape starts with a digit or the capital of a weekday or month: the first lookahead
#: lets the search skip every other position at once.)
READING = re.compile(
    r"(?=[0-9ADFJMNOSTW])(?<![\w:.+-])(?:" + "|".join(f"(?:{shape})" for shape in _SHAPES) + r")(?![\w:]|\.\d)"
)

_QUARTER_HOUR = timedelta(minutes=15)
_HOUR = timedelta(hours=1)
_EARLIEST_OFFSET = timedelta(hours=-12)
_LATEST_OFFSET = timedelta(hours=14)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Reading:
    """A date or time found in text: the moments it names at its printed precision.

    Each candidate day (two for an ambiguous numeric date, none for a time
    printed alone) starts a span of ``length`` at ``start``; the span is in
    the zone ``offset`` names, or in an unknown local zone when it is None.
    """

    text: str
    days: tuple[date, ...]
    start: time
    length: timedelta  # how long a span the printed precision covers
    offset: timedelta | None  # the printed zone's UTC offset, None when naive
    offset_step: timedelta  # the granularity of the local-time offsets a naive reading may be in

    def within(self, window: Window | None) -> bool:
        """Whether a moment this reading may name overlaps ``window``, at its precision."""
        if window is None:
            return False
        start, end = window.naive_utc
        days = self.days
        if not days:  # a time alone: any day the window touches, in any zone
            first, last = (start + _EARLIEST_OFFSET).date(), (end + _LATEST_OFFSET).date()
            days = tuple(first + timedelta(days=n) for n in range((last - first).days + 1))
        return any(self._overlaps(datetime.combine(day, self.start), start, end) for day in days)

    def _overlaps(self, low: datetime, start: datetime, end: datetime) -> bool:
        high = low + self.length
        # Read in a zone of UTC offset o, the reading spans [low - o, high - o) in UTC,
        # which overlaps [start, end] when o is in [low - end, high - start).
        if self.offset is not None:
            return low - self.offset <= end and high - self.offset > start
        step = self.offset_step
        offset = step * math.ceil(max(low - end, _EARLIEST_OFFSET) / step)
        return offset < high - start and offset <= _LATEST_OFFSET


def readings(text: str) -> Iterator[tuple[int, int, Reading]]:
    """Each date or time in ``text``: where it starts and ends, and what it names.

    A match that names no real date or time (month 13, 30 February) is skipped.
    """
    for match in READING.finditer(text):
        reading = _reading(match)
        if reading is not None:
            yield match.start(), match.end(), reading


def is_clock_reading(text: str, window: Window | None) -> bool:
    """Whether the whole of ``text`` (stripped) is one date or time within ``window``."""
    stripped = text.strip()
    match = READING.fullmatch(stripped)
    reading = _reading(match) if match else None
    return reading is not None and reading.within(window)


# The group each shape always sets, so a match tells its shape at a glance.
_SHAPE_KEYS = (("i", "iY"), ("r", "rd"), ("c", "cmon"), ("m", "mmon"), ("n", "na"), ("t", "tH"))


def _reading(match: re.Match[str]) -> Reading | None:
    groups = match.groupdict()
    tag = next(tag for tag, key in _SHAPE_KEYS if groups[key] is not None)
    days = _days(tag, groups)
    if days is None:
        return None
    if groups.get(f"{tag}H") is None:  # a date alone covers its day
        return Reading(match.group(), days, time(), _DAY, None, _QUARTER_HOUR)
    hour, minute, seconds = int(groups[f"{tag}H"]), int(groups[f"{tag}M"]), groups[f"{tag}S"]
    second = min(int(seconds), 59) if seconds is not None else 0  # a leap second reads as :59
    fraction = groups[f"{tag}F"] or ""
    if fraction:
        length = timedelta(microseconds=10 ** (6 - min(len(fraction), 6)))
    elif seconds is not None:
        length = timedelta(seconds=1)
    else:
        length = timedelta(minutes=1)
    start = time(hour, minute, second, int(fraction[:6].ljust(6, "0")) if fraction else 0)
    weakest = not days and seconds is None  # a bare HH:MM
    return Reading(match.group(), days, start, length, _offset(groups[f"{tag}Z"]), _HOUR if weakest else _QUARTER_HOUR)


def _days(tag: str, groups: dict[str, str | None]) -> tuple[date, ...] | None:
    """The day(s) a match names: () for a time alone, None for a date that does not exist."""
    if tag == "t":
        return ()
    if tag == "n":  # day/month or month/day
        year, a, b = int(groups["nY"]), int(groups["na"]), int(groups["nb"])
        days = tuple(sorted({day for day in (_date(year, b, a), _date(year, a, b)) if day is not None}))
        return days or None
    if tag == "i":
        year, month, day = int(groups["iY"]), int(groups["im"]), int(groups["id"])
    else:
        year, day = int(groups[f"{tag}Y"]), int(groups[f"{tag}d"])
        month = _MONTHS.index(groups[f"{tag}mon"][:3].lower()) + 1
    found = _date(year, month, day)
    return None if found is None else (found,)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _offset(zone: str | None) -> timedelta | None:
    if zone is None:
        return None
    if zone in ("Z", "UTC", "GMT"):
        return timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
