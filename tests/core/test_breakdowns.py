"""Breakdowns (breakdowns.py): each company's positive values by key, built by the compiled pass."""

from __future__ import annotations

import numpy as np
import pytest

from server.core.breakdowns import Breakdown


def test_each_company_gets_its_positive_values_by_key_largest_first() -> None:
    block = np.array([[0.0, 0.2, 0.5], [0.0, 0.0, 0.0], [0.3, 0.0, 0.3], [-1.0, 0.1, 0.0]])
    split = Breakdown.of_block(block, ["CN", "NL", "US"])
    assert [split.of(company) for company in range(4)] == [
        [("US", 0.5), ("NL", 0.2)],
        [],
        [("CN", 0.3), ("US", 0.3)],
        [("NL", 0.1)],
    ]
    assert split.size == 5
    assert split.rows.tolist() == [0, 2, 2, 4, 5]


def test_a_block_of_columns_inside_a_wider_one_is_read_in_place() -> None:
    wide = np.random.default_rng(0).random((1_000, 10))
    wide[wide < 0.3] = 0.0
    split = Breakdown.of_block(wide[:, 2:7], list("abcde"))
    inner = wide[:, 2:7]
    assert split.size == np.count_nonzero(inner)
    for company in (0, 17, 999):
        assert dict(split.of(company)) == {key: inner[company, k] for k, key in enumerate("abcde") if inner[company, k]}


def test_past_256_keys_the_codes_take_two_bytes() -> None:
    keys = [f"k{k}" for k in range(300)]
    block = np.zeros((2, 300))
    block[1, 299] = 0.5
    split = Breakdown.of_block(block, keys)
    assert split.codes.dtype == np.uint16
    assert split.of(1) == [("k299", 0.5)]


def test_keys_must_match_the_columns() -> None:
    with pytest.raises(ValueError, match="a block of 3 columns for 2 keys"):
        Breakdown.of_block(np.zeros((4, 3)), ["a", "b"])
