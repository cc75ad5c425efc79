"""Text-to-typed-value conversion for the schema's property types.

Every function raises ``ValueError`` with a message fit for a row problem report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _is_missing(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "") or (
        isinstance(raw, float) and math.isnan(raw)
    )


def to_string(raw: Any) -> str | None:
    if _is_missing(raw):
        return None
    return raw if isinstance(raw, str) else json.dumps(raw) if isinstance(raw, (dict, list)) else str(raw)


def to_int(raw: Any) -> int | None:
    if _is_missing(raw):
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not an integer")
    try:
        number = float(raw) if not isinstance(raw, int) else raw
    except (TypeError, ValueError):
        raise ValueError(f"{raw!r} is not an integer") from None
    if isinstance(number, float) and (not math.isfinite(number) or not number.is_integer()):
        raise ValueError(f"{raw!r} is not an integer")
    return int(number)


def to_float(raw: Any) -> float | None:
    if _is_missing(raw):
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{raw!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{raw!r} is not a finite number")
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
    raise ValueError(f"{raw!r} is not true/false")


def _to_list(raw: Any, item: Callable[[Any], Any]) -> list[Any] | None:
    if _is_missing(raw):
        return None
    if isinstance(raw, str):
        text = raw.strip()
        values = json.loads(text) if text.startswith("[") else text.split("|")
    else:
        values = raw
    if not isinstance(values, list):
        raise ValueError(f"{raw!r} is not a list")
    return [item(v) for v in values]


def to_string_list(raw: Any) -> list[str] | None:
    return _to_list(raw, lambda v: str(v).strip())


def to_float_list(raw: Any) -> list[float] | None:
    return _to_list(raw, lambda v: to_float(v) if not _is_missing(v) else _fail(v))


def _fail(value: Any) -> float:
    raise ValueError(f"{value!r} is not a number")


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "STRING": to_string,
    "INT64": to_int,
    "DOUBLE": to_float,
    "BOOLEAN": to_bool,
    "STRING[]": to_string_list,
    "DOUBLE[]": to_float_list,
}
