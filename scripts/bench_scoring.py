"""Benchmark: exact scoring vs a naive Monte-Carlo bootstrap, and online allocation at scale.

Part 1 scores one submission on a random 10,000-query x 128-sample binary bank (FIXTURE
numbers, not model outputs) at 40 budgets with 1,000 bootstrap replicates, two ways:

- hardbench: exact q(x, b) tables from order statistics, every method's allocation, one
  matrix product for all bootstrap replicates (bench.scoring);
- naive: the paper's Monte-Carlo estimate, for every replicate, method, budget and query
  drawing b of the n cached samples with replacement and taking the best (vectorized over
  queries with numpy, the same allocations).  It is timed on a few replicates and
  extrapolated linearly to the full count (its cost is linear in replicates).

Part 2 times online allocation (bench.allocation.allocate_greedy) of 1,000,000 queries with
B_max = 128 at several budgets.

Both are measured in the same run; the script prints times and ratios.  Run:

    python scripts/bench_scoring.py [--naive-replicates 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench import estimators
from bench.allocation import allocate_greedy
from bench.scoring import ScoringProblem, score

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
    """hardbench's full scoring path from the reward matrix to curve points, summaries and their intervals."""
    counts = np.full(N_QUERIES, N_SAMPLES)
    q_table = estimators.best_of_k_table(rewards, counts, N_SAMPLES)
    problem = ScoringProblem("best_of_k", "binary", "success_prob", np.arange(N_QUERIES).astype(str), splits,
                             q_table, counts, estimators.mean_reward(rewards, counts), 0, 0.0)
    test, held, train = (problem.subset(splits == s) for s in ("test", "val", "train"))
    scored = score(test, held, train, predictions[splits == "test"], predictions[splits == "val"], budgets,
                   n_bins=10, seed=0, n_bootstrap=N_REPLICATES)
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive-replicates", type=int, default=10,
                        help="replicates the naive bootstrap actually runs (then extrapolated)")
    args = parser.parse_args()

    rewards, splits, lam = random_bank(seed=0)
    rng = np.random.default_rng(2)
    predictions = np.clip(lam + rng.normal(0, 0.1, size=N_QUERIES), 0.0, 1.0)   # a noisy probe
    budgets = sorted({round(float(b), 2) for b in np.geomspace(1, N_SAMPLES, N_BUDGETS)})
    print(f"bank: {N_QUERIES} queries x {N_SAMPLES} samples (random FIXTURE), {len(budgets)} budgets, "
          f"{N_REPLICATES} bootstrap replicates, {int((splits == 'test').sum())} test queries")

    start = time.perf_counter()
    points, _ = exact_scoring(rewards, splits, predictions, budgets)
    exact_s = time.perf_counter() - start
    print(f"hardbench exact scoring (5 methods, allocation + bootstrap of every number): {exact_s:.2f} s")

    n_test = int((splits == "test").sum())
    # every method spends the same mean budget, so one method's cost times 4 is the full cost
    allocations = {"uniform": np.stack([np.full(n_test, b) for b in budgets])}
    start = time.perf_counter()
    naive = naive_bootstrap(rewards, splits, allocations, args.naive_replicates, seed=0)
    naive_one_method_s = time.perf_counter() - start
    naive_full_s = naive_one_method_s / args.naive_replicates * N_REPLICATES * 4
    print(f"naive Monte-Carlo bootstrap: {naive_one_method_s:.2f} s for {args.naive_replicates} replicates "
          f"of 1 method -> {naive_full_s:.0f} s extrapolated to {N_REPLICATES} replicates x 4 methods")
    print(f"speed-up: {naive_full_s / exact_s:.0f}x (target >= 100x)")
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


if __name__ == "__main__":
    main()
