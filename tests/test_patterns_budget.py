"""Specification of the retry budget: a shared token bucket that stops retry storms."""

from __future__ import annotations

import threading

import pytest
from patternhelpers import ACTOR, CONFLICT, DOWN, ScriptedStore

from aether.clock import SimulatedClock
from aether.errors import (
    RetriesExhaustedError,
    StoreOverloadedError,
    StoreTimeoutError,
    StoreUnavailableError,
    is_version_conflict,
)
from aether.experiment import NetworkModel, Outage, run_contention
from aether.patterns.budget import RetryBudget, RetryBudgetPolicy, budgeted_retry

# --------------------------------------------------------------------------- the bucket


def test_a_new_budget_is_full_with_the_aws_standard_defaults() -> None:
    budget = RetryBudget()
    assert (budget.tokens, budget.retry_cost, budget.unavailable_cost, budget.success_refund) == (500, 5, 10, 1)


def test_a_retry_after_a_conflict_costs_5_and_after_an_outage_10() -> None:
    budget = RetryBudget()
    assert budget.allow(CONFLICT) is True
    assert budget.tokens == 495
    assert budget.allow(DOWN) is True
    assert budget.tokens == 485
    assert (budget.spent, budget.retries_allowed) == (15, 2)


def test_a_retry_the_bucket_cannot_pay_for_is_refused_and_costs_nothing() -> None:
    budget = RetryBudget(max_tokens=14)
    assert budget.allow(DOWN) is True  # 14 -> 4
    assert budget.allow(CONFLICT) is False  # 4 < 5
    assert (budget.tokens, budget.retries_refused) == (4, 1)


def test_a_full_bucket_allows_exactly_max_tokens_over_cost_retries() -> None:
    budget = RetryBudget(max_tokens=500)
    allowed = [budget.allow(DOWN) for _ in range(60)]
    assert allowed.count(True) == 50 and allowed[50:] == [False] * 10
    assert budget.tokens == 0


def test_each_success_refunds_one_token_up_to_the_maximum() -> None:
    budget = RetryBudget(max_tokens=20)
    budget.allow(DOWN)  # 10 left
    for _ in range(3):
        budget.record_success()
    assert budget.tokens == 13
    for _ in range(10):
        budget.record_success()
    assert budget.tokens == 20


def test_an_empty_bucket_refills_only_through_successes() -> None:
    budget = RetryBudget(max_tokens=10)
    assert budget.allow(DOWN) and not budget.allow(CONFLICT)
    for _ in range(4):
        budget.record_success()
    assert budget.allow(CONFLICT) is False  # 4 tokens: not enough
    budget.record_success()
    assert budget.allow(CONFLICT) is True  # 5 tokens: exactly enough
    assert budget.tokens == 0


def test_grpc_throttling_allows_retries_only_while_more_than_half_full() -> None:
    budget = RetryBudget.grpc(max_tokens=10, token_ratio=0.5)
    allowed = [budget.allow(DOWN) for _ in range(7)]
    assert allowed == [True] * 5 + [False] * 2  # 10 -> 5, and 5 is not more than half
    budget.record_success()  # 5.5
    assert budget.allow(CONFLICT) is True
    assert budget.tokens == 4.5


TIMEOUT = StoreTimeoutError("scripted timeout")
THROTTLED = StoreOverloadedError("scripted refusal")


def test_the_aws_quota_before_2026_charges_5_for_a_retry_and_10_only_after_a_timeout() -> None:
    budget = RetryBudget.aws_standard()
    assert budget.tokens == 500
    assert [budget.cost_of(e) for e in (CONFLICT, DOWN, THROTTLED, TIMEOUT)] == [5, 5, 5, 10]


def test_the_aws_quota_of_2026_charges_14_for_a_retry_and_5_after_throttling() -> None:
    budget = RetryBudget.aws_standard(retries_2026=True)
    assert budget.tokens == 500
    assert [budget.cost_of(e) for e in (CONFLICT, DOWN, TIMEOUT, THROTTLED)] == [14, 14, 14, 5]


def test_with_the_aws_refund_a_success_gives_back_its_retry_cost_or_1_without_a_retry() -> None:
    budget = RetryBudget.aws_standard()
    assert budget.allow(TIMEOUT) and budget.allow(TIMEOUT)  # 480
    budget.record_success(10)  # a save that succeeded after a timeout retry
    assert budget.tokens == 490
    budget.record_success()  # a save that needed no retry
    assert budget.tokens == 491


def test_the_older_bucket_refunds_1_whatever_the_retry_cost() -> None:
    budget = RetryBudget()
    budget.allow(DOWN)
    budget.record_success(10)
    assert budget.tokens == 491


def test_budgeted_retry_passes_its_last_retry_cost_to_the_refund() -> None:
    budget = RetryBudget.aws_standard()
    budgeted_retry(ScriptedStore([TIMEOUT, "down"]), ACTOR, "Placed", budget=budget, clock=SimulatedClock())
    assert budget.tokens == 500 - 10 - 5 + 5  # the second retry (after an outage, 5) came back


def test_the_aws_policy_builds_the_aws_quota_for_each_run() -> None:
    policy = RetryBudgetPolicy.aws_standard(retries_2026=True, max_attempts=3)
    bucket = policy.new_budget()
    assert (bucket.retry_cost, bucket.throttle_cost, bucket.refund_retry_cost, policy.max_attempts) == (14, 5, True, 3)


def test_the_aws_quota_refuses_a_version_flag_that_is_not_a_bool() -> None:
    with pytest.raises(TypeError, match="retries_2026"):
        RetryBudget.aws_standard(retries_2026="yes")  # type: ignore[arg-type]


def test_a_budget_with_no_costs_never_refuses() -> None:
    budget = RetryBudget(max_tokens=1, retry_cost=0, unavailable_cost=0)
    assert all(budget.allow(DOWN) for _ in range(1000))


def test_eight_threads_sharing_a_budget_get_exactly_what_it_holds() -> None:
    budget = RetryBudget(max_tokens=500)
    allowed: list[bool] = []
    lock = threading.Lock()

    def spender() -> None:
        mine = [budget.allow(CONFLICT) for _ in range(50)]
        with lock:
            allowed.extend(mine)

    threads = [threading.Thread(target=spender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (allowed.count(True), budget.retries_refused, budget.tokens) == (100, 300, 0)


@pytest.mark.parametrize(("settings", "message"), [
    ({"max_tokens": -1}, "max_tokens"),
    ({"retry_cost": float("nan")}, "retry_cost"),
    ({"unavailable_cost": "10"}, "unavailable_cost"),
    ({"success_refund": True}, "success_refund"),
    ({"threshold": 500}, "threshold"),
    ({"max_attempts": 0}, "max_attempts"),
    ({"base_delay": 0.5, "max_delay": 0.1}, "max_delay"),
])
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        RetryBudgetPolicy(**settings)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the retry pattern


def test_retry_waits_capped_exponential_delays_and_pays_for_each_retry() -> None:
    sim = SimulatedClock(record_sleeps=True)
    budget = RetryBudget()
    store = ScriptedStore(["rival", "down", "rival", "down"])
    event = budgeted_retry(store, ACTOR, "Placed", budget=budget, clock=sim, base_delay=0.1, max_delay=0.3)
    assert sim.sleeps == [0.1, 0.2, 0.3, 0.3]
    assert store.inner.get_events(ACTOR)[-1] == event
    assert budget.tokens == 500 - (5 + 10 + 5 + 10) + 1  # four retries paid, one success refunded


def test_full_jitter_draws_each_wait_between_zero_and_the_capped_delay_from_rng() -> None:
    import random

    sim = SimulatedClock(record_sleeps=True)
    store = ScriptedStore(["down", "down"])
    budgeted_retry(store, ACTOR, "Placed", budget=RetryBudget(), clock=sim, base_delay=1.0, max_delay=20.0,
                   max_attempts=3, jitter="full", rng=random.Random(7))
    draw = random.Random(7)
    assert sim.sleeps == [draw.uniform(0.0, 1.0), draw.uniform(0.0, 2.0)]


def test_a_policy_with_jitter_passes_it_to_the_loop_and_one_without_does_not() -> None:
    jittered = RetryBudgetPolicy.aws_standard(jitter="full", max_attempts=3, base_delay=1.0, max_delay=20.0)
    assert jittered.retry_settings()["jitter"] == "full"
    assert "jitter" not in RetryBudgetPolicy().retry_settings()


@pytest.mark.parametrize("jitter", ["some", "Full"])
def test_an_unknown_jitter_is_refused_when_the_policy_is_made(jitter: str) -> None:
    with pytest.raises(ValueError, match="jitter"):
        RetryBudgetPolicy(jitter=jitter)  # type: ignore[arg-type]


def test_the_sdk_loop_with_its_quota_shares_one_budget_and_draws_its_waits_per_run() -> None:
    network = NetworkModel(outages=(Outage(0.5, 1.0),))
    policy = RetryBudgetPolicy.aws_standard(jitter="full", max_attempts=3, base_delay=1.0, max_delay=20.0)
    first = run_contention(policy, writers=20, start_spread=1.0, network=network, seed=3)
    again = run_contention(policy, writers=20, start_spread=1.0, network=network, seed=3)
    assert first.saves.equals(again.saves)
    assert len(policy.budgets) == 2 and policy.budgets[0] is not policy.budgets[1]
    assert policy.budgets[0].retries_allowed == policy.budgets[1].retries_allowed > 0


def test_retry_after_an_outage_saves_the_same_event_again() -> None:
    store = ScriptedStore(["lost-reply"])
    event = budgeted_retry(store, ACTOR, "Placed", budget=RetryBudget(), clock=SimulatedClock())
    assert store.saved == [event, event]
    assert store.inner.get_events(ACTOR) == [event]


def test_with_the_budget_spent_the_writer_gives_up_at_once_from_the_last_error() -> None:
    sim = SimulatedClock(record_sleeps=True)
    budget = RetryBudget(max_tokens=9)  # pays for one retry after a conflict (5 tokens), not two
    store = ScriptedStore(["rival", "rival", "rival"])
    with pytest.raises(RetriesExhaustedError) as info:
        budgeted_retry(store, ACTOR, "Placed", budget=budget, clock=sim)
    assert (info.value.reason, info.value.attempts, len(store.saved)) == ("retry budget exhausted", 2, 2)
    assert sim.sleeps == [0.010]
    assert is_version_conflict(info.value)


def test_the_last_attempt_does_not_spend_tokens() -> None:
    budget = RetryBudget()
    with pytest.raises(RetriesExhaustedError) as info:
        budgeted_retry(ScriptedStore(["down"] * 3), ACTOR, "Placed", budget=budget, clock=SimulatedClock(),
                       max_attempts=3)
    assert info.value.reason == "retry limit reached"
    assert isinstance(info.value.__cause__, StoreUnavailableError)
    assert budget.tokens == 480  # two retries, not three


def test_other_errors_propagate_unchanged_and_cost_nothing() -> None:
    bug = TypeError("a bug")
    budget = RetryBudget()
    with pytest.raises(TypeError) as info:
        budgeted_retry(ScriptedStore([bug]), ACTOR, "Placed", budget=budget, clock=SimulatedClock())
    assert info.value is bug
    assert budget.tokens == 500


# --------------------------------------------------------------------------- in the experiment


def test_twenty_writers_share_one_budget_per_run_and_leave_the_store_consistent() -> None:
    policy = RetryBudgetPolicy()
    result = run_contention(policy, writers=20, seed=2)
    budget = policy.budgets[-1]
    retries = int(result.saves["retries"].sum())
    assert budget.retries_allowed == retries
    assert budget.successes == (result.saves["outcome"] == "committed").sum()
    assert budget.tokens == 500 - 5 * retries + budget.successes  # no outage: every retry followed a conflict


def test_each_run_gets_a_full_budget_and_the_same_seed_the_same_run() -> None:
    policy = RetryBudgetPolicy(max_tokens=50)
    first = run_contention(policy, writers=20, seed=4)
    second = run_contention(policy, writers=20, seed=4)
    assert first.saves.equals(second.saves)
    assert len(policy.budgets) == 2 and policy.budgets[0] is not policy.budgets[1]


def test_during_an_outage_the_budget_caps_the_store_calls() -> None:
    network = NetworkModel(outages=(Outage(0.5, 1.5),))
    budgeted, unbudgeted = RetryBudgetPolicy(), RetryBudgetPolicy(retry_cost=0, unavailable_cost=0)
    runs = {p: run_contention(p, writers=20, start_spread=1.0, network=network, seed=1) for p in (budgeted, unbudgeted)}
    writes = {p: int((r.calls["op"] == "save_event").sum()) for p, r in runs.items()}
    budget = budgeted.budgets[-1]
    assert budget.tokens < budget.unavailable_cost and budget.retries_refused > 0  # the outage emptied it
    # every retry is paid for: at most (500 tokens + 1 per success) / 5 of them, whatever the outage does
    assert budget.retries_allowed <= (500 + budget.successes) / 5
    assert len(runs[budgeted].calls) < len(runs[unbudgeted].calls)
    assert writes[budgeted] < writes[unbudgeted]
