"""The Dramatiq engine's pure parts: counter differences, options, broker messages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attribution.engines import EngineError
from attribution.engines.broker import ACTOR, QUEUE, batch_message, check_broker, shown_url
from attribution.engines.dramatiq_engine import DramatiqOptions, counter_difference


def test_counter_difference_is_the_runs_share_of_cumulative_counters() -> None:
    before = {"ripe": {"requests": 10, "over_limit": 1}, "arin": {"requests": 4}}
    after = {
        "ripe": {"requests": 15, "over_limit": 1},
        "arin": {"requests": 4},
        "sandbox-rdap": {"requests": 3, "deferred": 2},
    }
    assert counter_difference(before, after) == {
        "ripe": {"requests": 5, "over_limit": 0},
        "sandbox-rdap": {"requests": 3, "deferred": 2},
    }


@pytest.mark.parametrize(
    "options",
    [
        {"batch": 0},
        {"workers": -1},
        {"limit": -1},
        {"lease": timedelta(0)},
        {"requeue_after": timedelta(seconds=-1)},
        {"pass_seconds": 0},
    ],
)
def test_options_refuse_impossible_values(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DramatiqOptions(**options)  # type: ignore[arg-type]


def test_a_message_carries_the_batch_and_nothing_else() -> None:
    payload = {
        "token": "run/1",
        "ids": ["4:a:1"],
        "max_depth": 0,
        "max_discovered": 5,
        "lease_seconds": 30.0,
    }
    message = batch_message(payload)
    assert (message.queue_name, message.actor_name, message.args) == (QUEUE, ACTOR, ())
    assert message.kwargs == payload


def test_the_broker_url_is_shown_without_its_password() -> None:
    assert shown_url("redis://:s3cret@127.0.0.1:6390/0") == "redis://***@127.0.0.1:6390/0"
    assert shown_url("redis://127.0.0.1:6390/0") == "redis://127.0.0.1:6390/0"


def test_an_unreachable_broker_is_one_line() -> None:
    with pytest.raises(EngineError) as caught:
        check_broker("redis://:pw@127.0.0.1:1/0")
    message = str(caught.value)
    assert "\n" not in message and "pw" not in message
    assert message.startswith("the broker at redis://***@127.0.0.1:1/0 is unreachable (")
