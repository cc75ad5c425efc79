"""Text-to-typed-value conversion for the schema's property types.

Every function raises ``ValueError`` with a message fit for a row problem report.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"[+-]?\d+")

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _shown(raw: Any, limit: int = 60) -> str:
    """The value as a problem report quotes it: a 4 MB field is cut, not echoed."""
    text = repr(raw)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def withheld(message: str, raw: Any) -> str:
    """A problem message about a personal value, with the value itself left out."""
    return message.replace(_shown(raw), "the value (personal data, not shown)")


def _is_missing(raw: Any) -> bool:
    return (
        raw is None
        or (isinstance(raw, str) and raw.strip() == "")
        or (isinstance(raw, float) and math.isnan(raw))
    )


def to_string(raw: Any) -> str | None:
    if _is_missing(raw):
        return None
    return raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, (dict, list)) else str(raw)


def to_int(raw: Any) -> int | None:
    """An INT64. Digits are read exactly (through a float, 2**53 + 1 would lose its last
    digit); ``3.0`` and ``1e3`` are accepted as the integers they are."""
    if _is_missing(raw):
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{_shown(raw)} is not an integer")
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
        number = int(raw.strip())
    else:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{_shown(raw)} is not an integer") from None
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"{_shown(raw)} is not an integer")
        number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{_shown(raw)} is out of the 64-bit integer range")
    return number


def to_epoch_seconds(raw: Any) -> int | None:
    """A point in time as Unix epoch seconds (the INT64 that MovieLens timestamps are).

    Accepts epoch seconds, or an ISO 8601 date or date-time (``2024-01-01``,
    ``2024-01-01T10:30:00+02:00``); a time without a zone is UTC, a date is midnight UTC,
    fractions of a second are dropped. Anything else would be a guess about day/month order.
    """
    if _is_missing(raw):
        return None
    if not isinstance(raw, str) or _is_number(raw):
        return to_int(raw)
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(
            f"{_shown(raw)} is neither epoch seconds nor an ISO 8601 date or date-time (2024-01-31, 2024-01-31T10:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return math.floor(moment.timestamp())
    except (OverflowError, ValueError):  # year 1 minus a zone offset, and the like
        raise ValueError(f"{_shown(raw)} is out of the range of epoch seconds") from None


def to_float(raw: Any) -> float | None:
    if _is_missing(raw):
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{_shown(raw)} is not a number")
    try:
        number = float(raw)
    except OverflowError:  # a JSON integer with hundreds of digits
        raise ValueError(f"{_shown(raw)} is not a finite number") from None
    except (TypeError, ValueError):
        raise ValueError(f"{_shown(raw)} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{_shown(raw)} is not a finite number")
    return number


def to_bool(raw: Any) -> bool | None:
    if _is_missing(raw):
        return None
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{_shown(raw)} is not true/false")


def _to_list(raw: Any, item: Callable[[Any], Any]) -> list[Any] | None:
    if _is_missing(raw):
        return None
    if isinstance(raw, str):
        text = raw.strip()
        try:
            values = json.loads(text) if text.startswith("[") else text.split("|")
        except RecursionError:
            raise ValueError("a list nested too deeply") from None
    else:
        values = raw
    if not isinstance(values, list):
        raise ValueError(f"{_shown(raw)} is not a list")
    return [item(v) for v in values]


def to_string_list(raw: Any) -> list[str] | None:
    return _to_list(raw, lambda v: str(v).strip())


def to_float_list(raw: Any) -> list[float] | None:
    return _to_list(raw, lambda v: to_float(v) if not _is_missing(v) else _fail(v))


def _fail(value: Any) -> float:
    raise ValueError(f"{_shown(value)} is not a number")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_timestamp(name: str) -> bool:
    """Whether an INT64 property holds a point in time: ``timestamp`` or ``*_timestamp``."""
    return name == "timestamp" or name.endswith("_timestamp")


def converter_for(name: str, prop_type: str) -> Callable[[Any], Any]:
    """The conversion for one declared property: by its type, except that an INT64
    timestamp also reads ISO dates, so a file can say ``2024-01-01``."""
    if prop_type == "INT64" and is_timestamp(name):
        return to_epoch_seconds
    return CONVERTERS[prop_type]


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "STRING": to_string,
    "INT64": to_int,
    "DOUBLE": to_float,
    "BOOLEAN": to_bool,
    "STRING[]": to_string_list,
    "DOUBLE[]": to_float_list,
}
