"""Portfolio allocation (bench.portfolio) against scipy's exact LP/MILP, and its reductions to
today's best-of-k and routing results.  Instances are FIXTURES (random rewards)."""

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from bench import estimators
from bench.bank import load_bank
from bench.errors import HardbenchError
from bench.portfolio import (
    Allocation,
    allocate_hull_greedy,
    area_under_hull,
    compute_portfolio_curves,
    cost_hulls,
    option_costs,
    portfolio_problem_from_bank,
    random_choice,
    score_allocation,
    single_option_frontier,
)
from bench.portfolio import portfolio_summary
from bench.bootstrap import percentile_interval
from bench.scoring import compute_curves, problem_from_bank, score
from tests.core.fixtures import fixture_bank

ROOT = Path(__file__).resolve().parents[2]


def random_instance(rng, n, n_dec, k_max, reward):
    """Per (query, decoder) a ragged number of samples (0 = missing) and their best-of-k table."""
    counts = rng.integers(0, k_max + 1, size=(n, n_dec))
    counts[:, 0] = np.maximum(counts[:, 0], 1)            # every query has some call
    q = np.full((n, n_dec, k_max), np.nan)
    for d in range(n_dec):
        if reward == "binary":
            rewards = (rng.random((n, k_max)) < rng.random((n, 1))).astype(float)
        else:
            rewards = rng.normal(rng.normal(0, 1, (n, 1)), 1.0, (n, k_max))
        rewards[np.arange(k_max)[None, :] >= counts[:, d:d + 1]] = np.nan
        table = estimators.best_of_k_table(rewards, counts[:, d], k_max)
        q[:, d, :] = table[:, 1:]
    costs = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0], size=n_dec)
    return q, counts, costs


def options_of(q, counts, costs, default, allow_zero):
    """Every (query, option index, cost, reward) of the knapsack."""
    n, n_dec, k_max = q.shape
    per_cost = option_costs(costs, k_max)
    rows = []
    for i in range(n):
        for d in range(n_dec):
            for k in range(1, counts[i, d] + 1):
                o = d * k_max + k - 1
                rows.append((i, o, per_cost[o], q[i, d, k - 1]))
        if allow_zero:
            rows.append((i, n_dec * k_max, 0.0, default))
    return rows


def knapsack_optimum(rows, n, budget, integral):
    """max sum r x  s.t. each query picks one option (sum_o x_io = 1), sum c x <= n B."""
    m = len(rows)
    query = np.array([r[0] for r in rows])
    cost = np.array([r[2] for r in rows])
    reward = np.array([r[3] for r in rows])
    pick = np.zeros((n, m))
    pick[query, np.arange(m)] = 1
    constraints = [LinearConstraint(pick, 1, 1), LinearConstraint(cost[None, :], -np.inf, budget * n)]
    res = milp(-reward, constraints=constraints, bounds=Bounds(0, 1),
               integrality=np.ones(m) if integral else np.zeros(m))
    assert res.success, res.message
    return -res.fun


def greedy_value(q, counts, costs, default, allow_zero, budget):
    hulls = cost_hulls(q, counts, costs, default, allow_zero)
    alloc = allocate_hull_greedy(hulls, budget)
    reward, cost = score_allocation(q, costs, default, alloc)
    return reward, cost, alloc


@pytest.mark.parametrize("seed", range(40))
def test_greedy_is_the_lp_optimum_and_near_the_integer_one(seed):
    rng = np.random.default_rng(seed)
    n, n_dec, k_max = int(rng.integers(1, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 6))
    reward_kind = "binary" if seed % 2 else "real"
    q, counts, costs = random_instance(rng, n, n_dec, k_max, reward_kind)
    allow_zero = bool(seed % 3)
    default = 0.0 if reward_kind == "binary" else float(rng.normal(0, 0.5))
    rows = options_of(q, counts, costs, default, allow_zero)
    least = np.mean([min(r[2] for r in rows if r[0] == i) for i in range(n)])
    most = np.mean([max(r[2] for r in rows if r[0] == i) for i in range(n)])
    for budget in [least, *rng.uniform(least, most, size=3), most * 1.2]:
        reward, cost, alloc = greedy_value(q, counts, costs, default, allow_zero, budget)
        lp = knapsack_optimum(rows, n, budget, integral=False)
        assert reward.sum() == pytest.approx(lp, abs=1e-9)
        assert cost.mean() <= budget + 1e-9
        ilp = knapsack_optimum(rows, n, budget, integral=True)
        gaps = [max(r[3] for r in rows if r[0] == i) - min(r[3] for r in rows if r[0] == i) for i in range(n)]
        assert lp - max(gaps) - 1e-9 <= ilp <= lp + 1e-9
        if reward_kind == "real":                  # continuous rewards: no ties, one fractional query
            assert int((alloc.frac > 0).sum()) <= 1
            # dropping the fractional query to its lower vertex is a feasible integer solution
            rounded = Allocation(alloc.low, alloc.low, np.zeros(n))
            r_int, c_int = score_allocation(q, costs, default, rounded)
            assert c_int.mean() <= budget + 1e-9
            assert ilp - max(gaps) - 1e-9 <= r_int.sum() <= ilp + 1e-9


def test_hulls_are_concave_with_rising_slopes():
    rng = np.random.default_rng(5)
    q, counts, costs = random_instance(rng, 200, 4, 8, "real")
    hulls = cost_hulls(q, counts, costs, 0.0, True)
    assert np.all(hulls.slope > 0)
    same_query = hulls.query[1:] == hulls.query[:-1]
    assert np.all(hulls.slope[1:][same_query] <= hulls.slope[:-1][same_query] + 1e-12)
    assert np.allclose(hulls.gain, hulls.slope * hulls.cost)


def test_budget_below_least_cost_is_one_clear_error():
    q = np.array([[[0.5]]])
    hulls = cost_hulls(q, np.array([[1]]), np.array([2.0]), 0.0, False)
    with pytest.raises(HardbenchError, match="least mean cost"):
        allocate_hull_greedy(hulls, 1.0)


def test_area_under_hull_of_a_line_and_a_step():
    assert area_under_hull(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.0, 1.0) == pytest.approx(0.5)
    # a dip below the chord is filled by the hull; flat beyond the last point
    assert area_under_hull(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.1, 1.0]), 0.0, 2.0) == pytest.approx(0.75)


# ----------------------------------------------------------------------------- reductions


def _today(problem, predictions, budgets):
    test = problem.subset(problem.splits == "test")
    held = problem.subset(problem.splits == "val")
    pred = predictions[problem.splits == "test"]
    curves = compute_curves(test, held, pred, predictions[problem.splits == "val"], budgets)
    return {m: v.mean(axis=0) for m, v in curves.per_query.items()}


def _best_of_k_reduction(bank, predictions, budgets):
    today = _today(problem_from_bank(bank), predictions, budgets)
    port = portfolio_problem_from_bank(bank, bank.decoders[:1], cost_unit="call")
    test = port.subset(port.splits == "test")
    curves = compute_portfolio_curves(test, predictions[port.splits == "test"][:, None], budgets)
    for method in ("online", "oracle", "uniform"):
        np.testing.assert_allclose(curves.per_query[method].mean(axis=0), today[method], rtol=0, atol=1e-12)
    assert np.all(curves.realized["oracle"] <= np.asarray(budgets) + 1e-12)


@pytest.mark.parametrize("ragged", [False, True])
def test_one_decoder_portfolio_is_best_of_k_on_a_fixture(tmp_path, ragged):
    bank = load_bank(fixture_bank(tmp_path / "b", n_queries=120, n_samples=8, ragged=ragged))
    rng = np.random.default_rng(1)
    predictions = rng.uniform(0.01, 0.99, size=120)
    _best_of_k_reduction(bank, predictions, [0.0, 0.5, 1.0, 2.0, 2.5, 4.0, 7.0, 8.0])


def test_one_decoder_portfolio_is_best_of_k_on_the_shipped_math_bank():
    bank = load_bank(ROOT / "tasks/math/banks/qwen25-math-8")
    lam = problem_from_bank(bank).targets
    predictions = np.clip(lam * 0.8 + 0.1, 0.01, 0.99)          # an informative, imperfect predictor
    _best_of_k_reduction(bank, predictions, [0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0])


def _routing_reduction(bank, preference):
    budgets = [round(x, 2) for x in np.linspace(0, 1, 21)]
    today = _today(problem_from_bank(bank), preference, budgets)
    port = portfolio_problem_from_bank(bank, bank.decoders[:2], costs=[0.0, 1.0])
    test = port.subset(port.splits == "test")
    # a routing score p is the predicted gain of the strong call: lambda_weak = 0, lambda_strong = p
    pred = np.stack([np.zeros(len(preference)), preference], axis=1)[port.splits == "test"]
    curves = compute_portfolio_curves(test, pred, budgets)
    means = {m: v.mean(axis=0) for m, v in curves.per_query.items()}
    np.testing.assert_allclose(means["online"], today["online"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(means["random"], today["random"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(curves.realized["random"], budgets, rtol=0, atol=1e-12)
    # the portfolio oracle spends at most B (mean cost <= B); today's routing oracle spends exactly
    # B, so the two agree until every query the strong decoder helps (or ties) is routed
    gain = test.q[:, 1, 0] - test.q[:, 0, 0]
    agree = np.asarray(budgets) <= np.mean(gain >= 0) + 1e-12
    np.testing.assert_allclose(means["oracle"][agree], today["oracle"][agree], rtol=0, atol=1e-12)
    assert np.all(means["oracle"] >= today["oracle"] - 1e-12)
    # the best single option at strong share B is the weak/strong mix: random routing's line
    if test.q[:, 1, 0].mean() > test.q[:, 0, 0].mean():
        np.testing.assert_allclose(means["best_single"], today["random"], rtol=0, atol=1e-12)
    # today's APGR and share@x% (routing summary) for the methods whose curves agree
    summary = portfolio_summary(curves, test, None)
    routing = problem_from_bank(bank)
    today_summary = score(
        routing.subset(routing.splits == "test"), routing.subset(routing.splits == "val"),
        routing.subset(routing.splits == "train"), preference[routing.splits == "test"],
        preference[routing.splits == "val"], budgets, n_bins=10, seed=0, n_bootstrap=0).summary
    for method in ("online", "random"):
        assert summary["apgr"][method] == pytest.approx(today_summary["apgr"][method], abs=1e-12)
        assert summary["strong_share_for_pgr"][method] == pytest.approx(
            today_summary["strong_share_for_pgr"][method], abs=1e-12)
    return curves


def test_two_decoder_portfolio_is_routing_on_a_fixture(tmp_path):
    bank = load_bank(fixture_bank(tmp_path / "b", n_queries=150, n_samples=1, setting="routing"))
    rng = np.random.default_rng(2)
    _routing_reduction(bank, rng.uniform(0.01, 0.99, size=150))


def test_two_decoder_portfolio_is_routing_on_the_shipped_gsm8k_bank():
    bank = load_bank(ROOT / "tasks/gsm8k/banks/mixtral-vs-gpt4")
    rng = np.random.default_rng(3)
    target = problem_from_bank(bank).targets
    preference = np.clip(target + rng.normal(0, 0.05, size=len(target)), 0.01, 0.99)
    curves = _routing_reduction(bank, preference)
    assert curves.per_query["online"].shape[0] == 417


def test_random_choice_spends_the_budget_exactly_with_many_decoders():
    rng = np.random.default_rng(9)
    q, counts, costs = random_instance(rng, 50, 3, 4, "binary")
    from bench.portfolio import PortfolioProblem
    problem = PortfolioProblem(["a", "b", "c"], costs, "call", {}, "binary", "success_prob_per_decoder",
                               np.arange(50).astype(str), np.full(50, "test"), q, counts,
                               np.zeros((50, 3)), 0.0, True)
    for budget in (0.3, 1.0, 2.0):
        _, cost = random_choice(problem, budget)
        assert cost.mean() == pytest.approx(budget)
    counts[0] = 0                                      # a query without any sample: the zero option only
    reward, cost = random_choice(problem, 1.0)
    assert reward[0] == 0.0 and cost[0] == 0.0 and cost.mean() == pytest.approx(1.0)
    frontier = single_option_frontier(problem)
    assert np.all(np.diff(frontier.mean_cost) > 0) and np.all(np.diff(frontier.mean_reward) > 0)


@pytest.mark.parametrize("seed", range(10))
def test_ties_are_shared_per_query_exactly_as_the_unit_greedy(seed):
    """Quantized concave rows (many equal marginals, within and across queries): one decoder at
    cost 1 gives, query by query, the allocation of bench.allocation.allocate_greedy."""
    from bench.allocation import allocate_greedy

    rng = np.random.default_rng(seed)
    n, k_max = 12, 6
    delta = -np.sort(-(rng.integers(1, 5, size=(n, k_max)) / 4.0), axis=1)     # positive, ties
    q = np.cumsum(delta, axis=1)[:, None, :]
    counts = np.full((n, 1), k_max)
    hulls = cost_hulls(q, counts, np.array([1.0]), 0.0, True)
    table = np.concatenate([np.zeros((n, 1)), q[:, 0, :]], axis=1)
    for budget in rng.uniform(0, k_max, size=5):
        reward, cost = score_allocation(q, np.array([1.0]), 0.0, allocate_hull_greedy(hulls, budget))
        b = allocate_greedy(delta, budget * n, counts[:, 0])
        np.testing.assert_allclose(cost, b, rtol=0, atol=1e-12)
        np.testing.assert_allclose(reward, estimators.expected_reward(table, b), rtol=0, atol=1e-12)


def test_portfolio_intervals_use_the_same_replicates_as_every_other_curve(tmp_path):
    from bench.portfolio import portfolio_curve_points

    bank = load_bank(fixture_bank(tmp_path / "b", n_queries=60, n_samples=4))
    port = portfolio_problem_from_bank(bank, cost_unit="call")
    curves = compute_portfolio_curves(port, np.full((60, 1), 0.4), [0.0, 1.0, 2.5])
    points, reps = portfolio_curve_points(curves, 200, seed=4)
    assert reps.shape == (200, 5 * 3)
    for method, values in curves.per_query.items():      # bench.bootstrap's replicates of the same seed
        low, high = percentile_interval(values, 200, 4)
        np.testing.assert_allclose([p["ci_low"] for p in points[method]], low, rtol=0, atol=1e-12)
        np.testing.assert_allclose([p["ci_high"] for p in points[method]], high, rtol=0, atol=1e-12)
