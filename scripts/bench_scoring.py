"""Benchmark: exact scoring vs a naive Monte-Carlo bootstrap, and online allocation at scale.

Part 1 scores one submission on a random 10,000-query x 128-sample binary bank (FIXTURE
numbers, not model outputs) at 40 budgets with 1,000 bootstrap replicates, two ways:

- hardbench: what ``bench run`` computes (bench.scoring.score): exact q(x, b) tables from
  order statistics, every method's allocation (5 methods with oracle-exact), one matrix
  product for all bootstrap replicates of the curves, and the interval of every summary,
  Table-1 number and paired-vs-baseline difference from the same replicates;
- naive: the paper's Monte-Carlo estimate, for every replicate, method, budget and query
  drawing b of the n cached samples with replacement and taking the best (vectorized over
  queries with numpy, the same allocations).  It is timed on a few replicates and
  extrapolated linearly to the full count (its cost is linear in replicates) and to 4
  methods; it computes curve means only, so the ratio understates hardbench's advantage.

Part 2 times online allocation (bench.allocation.allocate_greedy) of 1,000,000 queries with
B_max = 128 at several budgets.

Part 3 (``--case portfolio``) scores the portfolio setting (bench.portfolio) on a random
100,000-query x 16-decoder x 50-sample binary bank (FIXTURE numbers; costs per sample 0.5 to
72, like parameter counts in billions) at 40 budgets with 1,000 bootstrap replicates: exact
best-of-k tables, the online (noisy per-decoder predictions) and oracle hulls, every baseline,
the bootstrap intervals and the AIQ summary.  The reference solves each budget's
multiple-choice knapsack with ``scipy.optimize.milp`` (one binary per query and option) on a
2,000-query subsample; it is timed on a few budgets and extrapolated linearly to 40 budgets
and 100,000 queries (linear in queries favours the reference).

Every part is measured in the same run; the script prints times and ratios.  Run:

    python scripts/bench_scoring.py [--case all|best_of_k|portfolio] [--naive-replicates 10] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bench import estimators
from bench.allocation import allocate_greedy
from bench.scoring import ScoringProblem, allocation_by_bin, score

N_QUERIES, N_SAMPLES, N_BUDGETS, N_REPLICATES = 10_000, 128, 40, 1_000


def random_bank(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FIXTURE rewards: lambda ~ Beta(0.5, 1.5) per query, 128 Bernoulli samples each."""
    rng = np.random.default_rng(seed)
    lam = rng.beta(0.5, 1.5, size=N_QUERIES)
    rewards = (rng.random((N_QUERIES, N_SAMPLES)) < lam[:, None]).astype(np.float64)
    splits = np.array(["train", "val", "test"])[rng.integers(0, 3, size=N_QUERIES)]
    splits[:N_QUERIES // 2] = "test"
    return rewards, splits, lam


def exact_scoring(rewards: np.ndarray, splits: np.ndarray, predictions: np.ndarray,
                  budgets: list[float]) -> tuple[dict, object]:
    """hardbench's full scoring path, as ``bench run`` computes it (bench.runner.run_benchmark) from
    the reward matrix: exact tables and targets (what problem_from_bank does for a binary bank),
    curves, every summary and Table-1 number with its interval, paired-vs-baseline and the
    allocation by difficulty tercile.  Loading the bank, the submission and writing the JSON are
    left out."""
    counts = np.full(N_QUERIES, N_SAMPLES)
    q_table = estimators.best_of_k_table(rewards, counts, N_SAMPLES)
    problem = ScoringProblem("best_of_k", "binary", "success_prob", np.arange(N_QUERIES).astype(str), splits,
                             q_table, counts, estimators.mean_reward(rewards, counts), 0, 0.0)
    test, held, train = (problem.subset(splits == s) for s in ("test", "val", "train"))
    scored = score(test, held, train, predictions[splits == "test"], predictions[splits == "val"], budgets,
                   n_bins=10, seed=0, n_bootstrap=N_REPLICATES)
    allocation_by_bin(scored.curves, test, predictions[splits == "test"])
    return scored.points, scored.curves


def naive_bootstrap(rewards: np.ndarray, splits: np.ndarray, allocations: dict[str, np.ndarray],
                    n_replicates: int, seed: int) -> np.ndarray:
    """Monte-Carlo: per replicate, resample queries; per method and budget, draw b_i of n with
    replacement for every query and average the best rewards."""
    rng = np.random.default_rng(seed)
    test_rewards = rewards[splits == "test"]
    n = test_rewards.shape[0]
    methods = list(allocations)
    out = np.zeros((n_replicates, len(methods), allocations[methods[0]].shape[0]))
    for r in range(n_replicates):
        picked = rng.integers(0, n, size=n)
        for m, method in enumerate(methods):
            for col, b in enumerate(allocations[method]):
                b = b[picked]
                k = (np.floor(b) + (rng.random(n) < b - np.floor(b))).astype(np.int64)
                width = int(k.max())
                if width == 0:
                    continue
                draws = rng.integers(0, N_SAMPLES, size=(n, width))
                values = np.take_along_axis(test_rewards[picked], draws, axis=1)
                values[np.arange(width)[None, :] >= k[:, None]] = -np.inf
                best = values.max(axis=1)
                out[r, m, col] = np.where(k > 0, best, 0.0).mean()
    return out


def bench_online_allocation(repeats: int = 3) -> list[tuple[float, float]]:
    """Seconds (best of ``repeats``) to allocate 1,000,000 queries x B_max 128, per budget."""
    rng = np.random.default_rng(1)
    delta = estimators.marginals_from_success_prob(rng.beta(0.5, 1.5, size=1_000_000), 128)
    caps = np.full(1_000_000, 128)
    timings = []
    for budget in (1.0, 4.0, 16.0, 64.0):
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            allocate_greedy(delta, budget * 1_000_000, caps)
            best = min(best, time.perf_counter() - start)
        timings.append((budget, best))
    return timings


def main() -> None:
    global P_QUERIES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive-replicates", type=int, default=10,
                        help="replicates the naive bootstrap actually runs (then extrapolated)")
    parser.add_argument("--case", choices=["all", "best_of_k", "portfolio"], default="all")
    parser.add_argument("--repeats", type=int, default=1,
                        help="best_of_k: time exact scoring and the naive bootstrap alternately this many times")
    parser.add_argument("--portfolio-queries", type=int, default=P_QUERIES,
                        help="portfolio: queries of the bank (default 100,000; smaller for a quick look)")
    parser.add_argument("--reference-budgets", type=int, default=2,
                        help="portfolio: budgets the milp reference actually solves (then extrapolated)")
    parser.add_argument("--reference-time-limit", type=float, default=600.0,
                        help="portfolio: seconds milp may take per budget")
    args = parser.parse_args()
    if args.case in ("all", "best_of_k"):
        best_of_k_case(args)
    if args.case in ("all", "portfolio"):
        P_QUERIES = args.portfolio_queries
        portfolio_case(args)


def best_of_k_case(args: argparse.Namespace) -> None:
    """Parts 1 and 2: best-of-k scoring against the naive bootstrap; online allocation at scale."""

    rewards, splits, lam = random_bank(seed=0)
    rng = np.random.default_rng(2)
    predictions = np.clip(lam + rng.normal(0, 0.1, size=N_QUERIES), 0.0, 1.0)   # a noisy probe
    budgets = sorted({round(float(b), 2) for b in np.geomspace(1, N_SAMPLES, N_BUDGETS)})
    print(f"bank: {N_QUERIES} queries x {N_SAMPLES} samples (random FIXTURE), {len(budgets)} budgets, "
          f"{N_REPLICATES} bootstrap replicates, {int((splits == 'test').sum())} test queries")

    n_test = int((splits == "test").sum())
    # every method spends the same mean budget, so one method's cost times 4 is the full cost
    allocations = {"uniform": np.stack([np.full(n_test, b) for b in budgets])}
    ratios = []
    for attempt in range(args.repeats):        # a busy machine: alternate the two, report every pair
        if args.repeats > 1:
            print(f"-- run {attempt + 1} of {args.repeats} (load average {os.getloadavg()[0]:.1f})")
        start = time.perf_counter()
        points, _ = exact_scoring(rewards, splits, predictions, budgets)
        exact_s = time.perf_counter() - start
        print(f"hardbench exact scoring (5 methods, allocation + bootstrap of every number): {exact_s:.2f} s")
        start = time.perf_counter()
        naive = naive_bootstrap(rewards, splits, allocations, args.naive_replicates, seed=0)
        naive_one_method_s = time.perf_counter() - start
        naive_full_s = naive_one_method_s / args.naive_replicates * N_REPLICATES * 4
        print(f"naive Monte-Carlo bootstrap: {naive_one_method_s:.2f} s for {args.naive_replicates} replicates "
              f"of 1 method -> {naive_full_s:.0f} s extrapolated to {N_REPLICATES} replicates x 4 methods")
        ratios.append(naive_full_s / exact_s)
        print(f"speed-up: {ratios[-1]:.0f}x (target >= 100x)")
    if args.repeats > 1:
        print(f"speed-up over {args.repeats} runs: median {np.median(ratios):.0f}x, lowest {min(ratios):.0f}x")
    exact_uniform = np.array([p["mean"] for p in points["uniform"]])
    lam = rewards[splits == "test"].mean(axis=1)
    with_replacement = np.array([_with_replacement_uniform(lam, b) for b in budgets])
    noise = np.abs(naive[:, 0, :].mean(axis=0) - with_replacement).max()
    bias = np.abs(with_replacement - exact_uniform).max()
    print(f"check: naive means are within {noise:.4f} of the with-replacement expectation (Monte-Carlo "
          f"noise, {args.naive_replicates} replicates); drawing with replacement itself is biased by up to "
          f"{bias:.4f} against the exact without-replacement estimator")

    for budget, seconds in bench_online_allocation():
        print(f"online allocation, 1,000,000 queries x B_max 128, B = {budget:g}: {seconds:.2f} s (target < 1 s)")


def _with_replacement_uniform(lam: np.ndarray, budget: float) -> float:
    """Exact mean of best-of-b when the b draws are made with replacement: 1 - (1 - lambda)^b,
    interpolated between floor and ceil for a fractional budget."""
    low = np.floor(budget)
    q_low, q_high = 1 - (1 - lam) ** low, 1 - (1 - lam) ** (low + 1)
    return float((q_low + (budget - low) * (q_high - q_low)).mean())


# ----------------------------------------------------------------------------- portfolio (part 3)

P_QUERIES, P_DECODERS, P_SAMPLES, P_SUBSAMPLE = 100_000, 16, 50, 2_000


def portfolio_bank(seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """FIXTURE: per query a difficulty u ~ Beta(0.5, 1.5); decoder d succeeds with probability
    u ** e_d (e_d from 1.5 down to 0.3: dearer decoders are better), 50 Bernoulli samples each.
    Returns the per-decoder reward matrices (uint8), the success probabilities and the costs."""
    rng = np.random.default_rng(seed)
    u = rng.beta(0.5, 1.5, size=(P_QUERIES, 1))
    lam = u ** np.linspace(1.5, 0.3, P_DECODERS)[None, :]
    rewards = [(rng.random((P_QUERIES, P_SAMPLES)) < lam[:, d:d + 1]).astype(np.uint8) for d in range(P_DECODERS)]
    return rewards, lam, np.geomspace(0.5, 72.0, P_DECODERS)


def portfolio_scoring(rewards: list[np.ndarray], costs: np.ndarray, predictions: np.ndarray,
                      budgets: list[float]) -> tuple[dict, dict]:
    """hardbench's full portfolio scoring, from the reward matrices to curve points and summary."""
    from bench import portfolio

    counts = np.full(P_QUERIES, P_SAMPLES)
    q = np.stack([estimators.binary_best_of_k_table(r.sum(axis=1), counts, P_SAMPLES)[:, 1:] for r in rewards],
                 axis=1)
    problem = portfolio.PortfolioProblem(
        [f"d{d}" for d in range(P_DECODERS)], costs, "fixture", {}, "binary", portfolio.TARGET_SUCCESS_PER_DECODER,
        np.arange(P_QUERIES).astype(str), np.full(P_QUERIES, "test"), q, np.full((P_QUERIES, P_DECODERS), P_SAMPLES),
        np.stack([r.mean(axis=1) for r in rewards], axis=1), 0.0, True)
    curves = portfolio.compute_portfolio_curves(problem, predictions, budgets)
    points, replicates = portfolio.portfolio_curve_points(curves, N_REPLICATES, seed=0)
    return points, portfolio.portfolio_summary(curves, problem, replicates)


def milp_knapsack(q: np.ndarray, costs: np.ndarray, budget: float, time_limit: float) -> tuple[float, bool]:
    """Reference: the multiple-choice knapsack as one MILP (a binary per query and option, the
    zero option included), solved by scipy's HiGHS.  Returns (optimum, solved to optimality)."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    from bench.portfolio import option_costs

    n, n_dec, k_max = q.shape
    n_opt = n_dec * k_max + 1
    reward = np.concatenate([q.reshape(n, -1), np.zeros((n, 1))], axis=1).ravel()
    cost = np.tile(option_costs(costs, k_max), n)
    pick = sparse.csr_matrix((np.ones(n * n_opt), (np.repeat(np.arange(n), n_opt), np.arange(n * n_opt))))
    res = milp(-reward, integrality=np.ones(n * n_opt), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(pick, 1, 1), LinearConstraint(sparse.csr_matrix(cost), -np.inf, budget * n)],
               options={"time_limit": time_limit})
    return (-res.fun if res.x is not None else float("nan")), res.status == 0


def portfolio_case(args: argparse.Namespace) -> None:
    """Part 3: portfolio scoring at 100,000 x 16 x 50 against a milp reference on 2,000 queries."""
    from bench import portfolio

    rewards, lam, costs = portfolio_bank(seed=0)
    rng = np.random.default_rng(2)
    predictions = np.clip(lam + rng.normal(0, 0.1, size=lam.shape), 0.0, 1.0)   # a noisy probe
    budgets = [float(b) for b in np.linspace(0.0, 400.0, N_BUDGETS)]
    print(f"\nportfolio bank: {P_QUERIES} queries x {P_DECODERS} decoders x {P_SAMPLES} samples (random FIXTURE), "
          f"costs {costs[0]:g}..{costs[-1]:g} per sample, {len(budgets)} budgets, {N_REPLICATES} bootstrap replicates; "
          f"load average before: {os.getloadavg()[0]:.1f}")
    wall, cpu = time.perf_counter(), time.process_time()
    points, summary = portfolio_scoring(rewards, costs, predictions, budgets)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"hardbench portfolio scoring (5 methods, hulls + allocation + bootstrap + AIQ): {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU (target < 30 s)")
    print("AIQ: " + ", ".join(f"{m} {v:.4f}" for m, v in summary["aiq"].items()))

    sub = np.random.default_rng(3).choice(P_QUERIES, size=P_SUBSAMPLE, replace=False)
    counts = np.full(P_SUBSAMPLE, P_SAMPLES)
    q_sub = np.stack([estimators.best_of_k_table(r[sub].astype(np.float64), counts, P_SAMPLES)[:, 1:]
                      for r in rewards], axis=1)
    hulls = portfolio.cost_hulls(q_sub, np.full((P_SUBSAMPLE, P_DECODERS), P_SAMPLES), costs, 0.0, True)
    gap = float(np.nanmax(q_sub, axis=(1, 2)).max())                 # one query's largest reward gap
    picked = [budgets[i] for i in np.linspace(1, len(budgets) - 1, args.reference_budgets).astype(int)]
    seconds = []
    for budget in picked:
        start = time.perf_counter()
        ilp, optimal = milp_knapsack(q_sub, costs, budget, args.reference_time_limit)
        seconds.append(time.perf_counter() - start)
        reward, _ = portfolio.score_allocation(q_sub, costs, 0.0, portfolio.allocate_hull_greedy(hulls, budget))
        lp = float(reward.sum())
        print(f"milp reference, {P_SUBSAMPLE} queries, B = {budget:g}: {seconds[-1]:.1f} s "
              f"({'optimal' if optimal else 'stopped at the time limit'}); integer optimum {ilp:.4f} vs hardbench's "
              f"LP optimum {lp:.4f} (LP - ILP = {lp - ilp:.2e}, at most one query's gap {gap:.2f})")
    per_budget = float(np.mean(seconds))
    extrapolated = per_budget * len(budgets) * (P_QUERIES / P_SUBSAMPLE)
    print(f"milp reference extrapolated to {len(budgets)} budgets x {P_QUERIES} queries (linear): {extrapolated:.0f} s")
    print(f"speed-up: {extrapolated / wall:.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
