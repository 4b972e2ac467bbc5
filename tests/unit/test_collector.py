"""The collector's thresholds while a worker runs, and afterwards."""

from __future__ import annotations

import gc

import pytest

from attribution import collector


def test_thresholds_hold_for_the_block_and_the_previous_ones_come_back() -> None:
    before = gc.get_threshold()
    with collector.thresholds((12_345, 6, 7)):
        assert gc.get_threshold() == (12_345, 6, 7)
    assert gc.get_threshold() == before


def test_the_previous_thresholds_come_back_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="inside"), collector.thresholds():
        assert gc.get_threshold() == collector.BULK_THRESHOLDS
        raise RuntimeError("inside")
    assert gc.get_threshold() == before
