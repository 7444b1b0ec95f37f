"""The package's field checks, written once: every settings object and helper calls these.

Each raises `ValueError` naming the field, the bad value and what would be accepted, e.g.
``RunConfig.batch_size=0 is invalid: it must be a positive integer``. `name` is how the caller
wants the field named (``"RunConfig.batch_size"``, ``"chunk_size"``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any


def invalid(name: str, value: Any, expected: str) -> ValueError:
    """The error every check raises: ``<name>=<value> is invalid: <expected>``."""
    return ValueError(f"{name}={value!r} is invalid: {expected}")


def is_int(value: Any) -> bool:
    """An int that is not a bool (True is an int to Python, never a count to us)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    """A real number (not a bool) other than nan and ±inf."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def positive_int(value: Any, name: str, *, minimum: int = 1, allow_none: bool = False) -> None:
    """`value` is an integer >= `minimum` (or None, when `allow_none`: "no limit")."""
    if value is None and allow_none:
        return
    if not is_int(value) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        if minimum == 0:
            what = "a non-negative integer"
        raise invalid(
            name, value, f"it must be {what}{' or None (no limit)' if allow_none else ''}"
        )


def finite_number(
    value: Any, name: str, *, positive: bool = False, allow_none: bool = False, none_means: str = ""
) -> None:
    """`value` is a finite number (and > 0 when `positive`), or None when `allow_none`."""
    if value is None and allow_none:
        return
    if not is_finite(value) or (positive and not value > 0):
        what = "a finite positive number" if positive else "a finite number (not nan or inf)"
        none = f" (or None: {none_means})" if allow_none and none_means else ""
        raise invalid(name, value, f"it must be {what}{none}")


def one_of(value: Any, name: str, choices: Collection[Any]) -> None:
    """`value` is one of `choices`."""
    if value not in choices:
        raise invalid(name, value, f"choose one of {tuple(choices)}")
