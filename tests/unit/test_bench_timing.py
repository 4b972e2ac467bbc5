"""The benchmarks' alternated timing: the measure and its baseline take turns, warm-up pairs
first, so both see the machine in the same state."""

from __future__ import annotations

from benchmarks._common import timed_beside


def test_measure_and_baseline_take_turns_after_the_warm_up_pairs() -> None:
    calls: list[str] = []
    measured, baseline = timed_beside(
        lambda: calls.append("query"), lambda: calls.append("round trip"), warmup=2, runs=3
    )
    assert calls == ["query", "round trip"] * 5
    assert len(measured) == 3 and len(baseline) == 3
    assert all(ms >= 0.0 for ms in measured + baseline)
