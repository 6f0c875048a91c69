"""The contract run sets aside only the known date filter crash, not other 500s."""

from __future__ import annotations

import pytest

from tests.contract.hooks import has_out_of_range_date_filter


@pytest.mark.parametrize(
    "query",
    [
        {"created_before": "9999-12-31"},
        {"occurred_after": "0001-01-01T00:00:00+01:00"},
        {"published_before": ["2026-01-01", "2026-01-01T00:00:00-19:46"]},
    ],
)
def test_an_out_of_range_date_filter_is_recognised(query: dict) -> None:
    assert has_out_of_range_date_filter(query)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"created_after": "9999-12-31"},
        {"created_before": "2026-01-01T00:00:00+15:59"},
        {"created_before": "not a date"},
        {"search": "9999-12-31"},
    ],
)
def test_other_queries_are_not(query: dict) -> None:
    assert not has_out_of_range_date_filter(query)
