"""mlm_helpers.checks: the shared field checks every settings object uses."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlm_helpers import checks


@given(st.integers(min_value=1))
def test_positive_ints_pass(value):
    checks.positive_int(value, "n")


@pytest.mark.parametrize("value", [0, -3, 1.0, True, "2", None])
def test_positive_int_names_the_field_and_the_rule(value):
    with pytest.raises(ValueError, match=r"^Thing\.n=.* is invalid: it must be a positive integer"):
        checks.positive_int(value, "Thing.n")


def test_positive_int_minimum_and_none():
    checks.positive_int(None, "n", allow_none=True)
    checks.positive_int(0, "seed", minimum=0)
    with pytest.raises(ValueError, match="non-negative integer"):
        checks.positive_int(-1, "seed", minimum=0)
    with pytest.raises(ValueError, match=r"integer >= 2 or None \(no limit\)"):
        checks.positive_int(1, "n", minimum=2, allow_none=True)


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers())
def test_finite_numbers_pass(value):
    checks.finite_number(value, "x")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1", True, None])
def test_non_finite_values_are_refused(value):
    with pytest.raises(ValueError, match=r"^x=.* is invalid: it must be a finite number"):
        checks.finite_number(value, "x")


def test_finite_positive_and_none():
    checks.finite_number(None, "clip", positive=True, allow_none=True)
    with pytest.raises(ValueError, match=r"finite positive number \(or None: no clipping\)"):
        checks.finite_number(0.0, "clip", positive=True, allow_none=True, none_means="no clipping")


def test_one_of_lists_the_choices():
    checks.one_of("a", "kind", ("a", "b"))
    with pytest.raises(ValueError, match=r"kind='c' is invalid: choose one of \('a', 'b'\)"):
        checks.one_of("c", "kind", ("a", "b"))
