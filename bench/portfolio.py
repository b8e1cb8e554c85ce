"""The ``portfolio`` setting: allocation over many decoders with costs (issue 9).

Per query x_i the *options* are pairs (decoder d, k samples) with 1 <= k <= n_id (the answer
is the best of the k samples, as in best-of-k); an option costs k * cost(d) and its exact
expected reward is the best-of-k estimator of that decoder's samples
(:func:`bench.estimators.best_of_k_table`).  When the task allows budget 0 (``min_budget: 0``)
there is also the *zero option*: no call, cost 0, the task's ``default_reward`` (as best-of-k
at b = 0).  Tasks with ``min_budget >= 1`` (chat) must make at least one call per query; there
the cheapest call is the starting point.  Best-of-k (one decoder, cost 1 per sample) and
two-decoder routing (one sample each, cost 0 for the weak decoder and 1 for the strong one,
so the mean cost is the strong-call share) are special cases and give today's numbers.

Allocation: choose one option per query to maximise the sum of (predicted) expected rewards
with mean cost <= B, a multiple-choice knapsack.  Its LP relaxation is solved exactly by a
greedy over each query's *upper convex hull* of (cost, reward) points: walk the hull segments
of all queries in order of decreasing slope (reward per unit cost) until the budget is spent;
at most one query ends between two vertices (ties at the threshold slope are shared, as
today's fractional budgets are).  A query between vertices a and b with fraction t is scored
as the mix: option b with probability t, a otherwise (exact expectation, no noise).  Only
segments of positive slope are ever bought, so the realized mean cost may be below B.

Hulls are computed for all queries at once: an option's cost k * cost(d) is the same for every
query, so the D * K options are sorted by cost once and Andrew's monotone chain runs over them
with one stack per query (one Python step per option, array operations over the queries).  No
Python loop over queries; each budget then costs O(n log L) (L = longest hull).

Baselines on every curve: ``oracle`` (the greedy on the true rewards), ``random`` (the
cheapest option or the most expensive one, the same coin for every query, exact expectation;
with two decoders at one sample each this is random routing), ``best_single`` (one decoder
and one k for every query; its frontier is the upper hull of the per-option mean curve,
mixing two adjacent options in between: the strongest non-adaptive policy, chosen with
hindsight on the test set), and ``uniform`` (best-of-k on the cheapest decoder).

Proof sketch of LP optimality (details in docs/portfolio.md): the LP's objective restricted
to one query, as a function of the cost spent on it, is that query's upper concave hull
h_i(c); the LP is max sum h_i(c_i) s.t. sum c_i <= nB, a separable concave resource
allocation solved by the greedy on the pieces' slopes (exchange argument).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench import estimators
from bench.allocation import quantize_marginals
from bench.bank import Bank
from bench.bootstrap import bootstrap_means, finite_or_none, interval, sign_shares
from bench.errors import HardbenchError
from bench.metrics import (
    apgr,
    area_between_curves,
    compute_saved,
    quality_gain,
    soft_cross_entropy,
    squared_error,
    strong_share_for_pgr,
)

#: target kinds of the portfolio setting (shape (n, D) and (n, D * K)); see bench.predictors.base
TARGET_SUCCESS_PER_DECODER = "success_prob_per_decoder"
TARGET_MARGINALS_PER_DECODER = "marginal_rewards_per_decoder"
#: methods on every portfolio curve
METHODS = ("online", "uniform", "random", "best_single", "oracle")
BASELINE = "best_single"


# ----------------------------------------------------------------------------- the problem


@dataclass(frozen=True)
class DecoderCost:
    """One decoder's cost per sample, with its unit and where the number comes from."""

    value: float
    unit: str
    source: str


@dataclass(frozen=True)
class PortfolioProblem:
    """Everything portfolio scoring needs from a bank, as arrays in bank order.

    Attributes
    ----------
    decoders : list of str
        The decoders allocated over, in the order of every ``D`` axis below.
    costs : ndarray, shape (D,)
        Cost of one sample of each decoder.
    q : ndarray, shape (n, D, K)
        ``q[i, d, k-1]``: exact expected best-of-k reward of decoder d on query i; NaN past
        ``counts[i, d]`` (no unbiased estimate there).
    counts : ndarray of int, shape (n, D)
        Samples per (query, decoder); 0 = missing (the option does not exist).
    targets : ndarray, shape (n, D) or (n, D * K)
        The training target: each decoder's success probability (binary) or its marginal
        rewards Delta_1..Delta_K, decoder after decoder (real); missing decoders are filled
        with that decoder's mean target (documented in docs/portfolio.md).
    allow_zero : bool
        Whether "no call" (cost 0, ``default_reward``) is an option (task ``min_budget == 0``).
    """

    decoders: list[str]
    costs: np.ndarray
    cost_unit: str
    cost_sources: dict[str, str]
    reward_kind: str
    target_kind: str
    query_ids: np.ndarray
    splits: np.ndarray
    q: np.ndarray
    counts: np.ndarray
    targets: np.ndarray
    default_reward: float
    allow_zero: bool

    @property
    def setting(self) -> str:
        return "portfolio"

    @property
    def k_max(self) -> int:
        return self.q.shape[2]

    @property
    def target_width(self) -> int:
        """Columns of one query's target (and prediction): D, or D * K."""
        return self.targets.shape[1]

    def subset(self, mask: np.ndarray) -> "PortfolioProblem":
        """The same problem restricted to the queries in ``mask``."""
        return PortfolioProblem(self.decoders, self.costs, self.cost_unit, self.cost_sources, self.reward_kind,
                                self.target_kind, self.query_ids[mask], self.splits[mask], self.q[mask],
                                self.counts[mask], self.targets[mask], self.default_reward, self.allow_zero)


def decoder_costs(bank: Bank, decoders: Sequence[str], cost_unit: str | None = None) -> list[DecoderCost]:
    """Each decoder's cost per sample from the manifest's ``cost`` (BRIEF contract 1).

    A decoder without an entry costs 1 ``call`` (source "unknown: uniform").  ``cost_unit``
    ``"call"`` forces that uniform cost for every decoder; any other ``cost_unit`` must be
    the unit the manifest gives, and every chosen decoder must use one unit.
    """
    table = bank.manifest.get("cost") or {}
    if cost_unit == "call":
        return [DecoderCost(1.0, "call", "uniform: --cost-unit call") for _ in decoders]
    out = []
    for name in decoders:
        entry = table.get(name)
        if entry is None:
            out.append(DecoderCost(1.0, "call", "unknown: uniform"))
            continue
        try:
            cost = DecoderCost(float(entry["value"]), str(entry["unit"]), str(entry.get("source", "unknown")))
        except (TypeError, KeyError, ValueError) as err:
            raise HardbenchError(f"bank {bank.name!r}: cost of decoder {name!r} must be "
                                 f"{{'value': float, 'unit': str, 'source': str}}; got {entry!r}") from err
        if not np.isfinite(cost.value) or cost.value < 0:
            raise HardbenchError(f"bank {bank.name!r}: cost of decoder {name!r} is {cost.value}; "
                                 "it must be a finite number >= 0")
        out.append(cost)
    units = sorted({c.unit for c in out})
    if len(units) > 1:
        raise HardbenchError(f"bank {bank.name!r}: the chosen decoders' costs use different units {units}; "
                             "pick decoders with one unit, or pass --cost-unit call (1 per sample)")
    if cost_unit is not None and units != [cost_unit]:
        raise HardbenchError(f"bank {bank.name!r} gives costs in {units[0]!r}, not {cost_unit!r}; "
                             f"use --cost-unit {units[0]} or --cost-unit call")
    return out


def cost_sources_text(decoders: Sequence[str], costs: dict[str, dict[str, object]]) -> str:
    """Where each decoder's cost comes from, one entry per distinct source with its decoders (in
    decoder order), so that a reader can tell which number each source backs.

    >>> cost_sources_text(["a", "b", "c"], {"a": {"source": "x"}, "b": {"source": "y"}, "c": {"source": "x"}})
    'a, c: x; b: y'
    """
    by_source: dict[str, list[str]] = {}
    for d in decoders:
        by_source.setdefault(str(costs[d]["source"]), []).append(d)
    return "; ".join(f"{', '.join(names)}: {source}" for source, names in by_source.items())


def portfolio_problem_from_bank(bank: Bank, decoders: Sequence[str] | None = None, *,
                                default_reward: float = 0.0, min_budget: int = 0,
                                cost_unit: str | None = None,
                                costs: Sequence[float] | None = None) -> PortfolioProblem:
    """Reduce a bank to exact per-option expected rewards, costs and per-decoder targets.

    ``decoders`` defaults to every decoder of the bank.  ``costs`` overrides the manifest
    (used by tests and by the routing reduction: weak 0, strong 1).
    """
    names = list(bank.decoders if not decoders else decoders)
    unknown = [d for d in names if d not in bank.decoders]
    if unknown or len(set(names)) != len(names):
        raise HardbenchError(f"--decoders {names}: each must be one of the bank's decoders {bank.decoders}, "
                             "listed once")
    if costs is None:
        info = decoder_costs(bank, names, cost_unit)
        cost_values = np.array([c.value for c in info])
        unit, sources = info[0].unit, {d: c.source for d, c in zip(names, info)}
    else:
        cost_values = np.asarray(costs, dtype=np.float64)
        unit, sources = cost_unit or "given", {d: "given by the caller" for d in names}
    matrices = [bank.reward_matrix(d) for d in names]
    counts = np.stack([m.counts for m in matrices], axis=1)
    k_max = max(int(counts.max()), 1)
    q = np.stack([_best_of_k_rewards(m.rewards, m.counts, k_max, default_reward, bank.reward_kind)
                  for m in matrices], axis=1)
    if bank.reward_kind == "binary":
        kind = TARGET_SUCCESS_PER_DECODER
        with np.errstate(invalid="ignore", divide="ignore"):
            targets = np.stack([estimators.mean_reward(m.rewards, m.counts) for m in matrices], axis=1)
    else:
        kind = TARGET_MARGINALS_PER_DECODER
        full = np.concatenate([np.full(q.shape[:2] + (1,), default_reward), q], axis=2)
        targets = np.diff(full, axis=2)           # NaN past a decoder's samples
        targets = np.where(np.isnan(targets) & (counts[:, :, None] > 0), 0.0, targets)   # no further gain
        targets = targets.reshape(len(counts), -1)
    targets = _fill_missing_targets(targets)
    return PortfolioProblem(names, cost_values, unit, sources, bank.reward_kind, kind,
                            bank.queries["query_id"].to_numpy(), bank.queries["split"].to_numpy(), q, counts,
                            targets, float(default_reward), min_budget == 0)


def _best_of_k_rewards(rewards: np.ndarray, counts: np.ndarray, k_max: int, default_reward: float,
                       reward_kind: str) -> np.ndarray:
    """q[i, k-1] for k = 1..k_max of one decoder (binary: from success counts, no sort)."""
    if reward_kind == "binary":
        successes = np.nansum(rewards, axis=1).astype(np.int64)
        return estimators.binary_best_of_k_table(successes, counts, k_max, default_reward)[:, 1:]
    return estimators.best_of_k_table(rewards, counts, k_max, default_reward)[:, 1:]


def _fill_missing_targets(targets: np.ndarray) -> np.ndarray:
    """Missing (query, decoder) targets -> that column's mean (0 if the column is all missing)."""
    missing = np.isnan(targets)
    if not missing.any():
        return targets
    with np.errstate(invalid="ignore"):
        means = np.nan_to_num(np.nanmean(np.where(missing, np.nan, targets), axis=0))
    return np.where(missing, means[None, :], targets)


def predicted_q(problem: PortfolioProblem, predictions: np.ndarray) -> np.ndarray:
    """Predictions -> predicted expected reward of every option, shape (n, D, K), NaN past counts.

    Binary: q = 1 - (1 - lambda_d)^k (the paper's section 3.3, per decoder).  Real: the
    predicted marginals of each decoder, made non-negative and non-increasing from k = 2 on
    (:func:`bench.predictors.common.tidy_marginal_rewards`, best-of-k's shape), summed onto
    ``default_reward``.
    """
    n, n_dec, k_max = problem.q.shape
    preds = np.asarray(predictions, dtype=np.float64)
    k = np.arange(1, k_max + 1)
    if problem.target_kind == TARGET_SUCCESS_PER_DECODER:
        q_hat = 1.0 - (1.0 - preds[:, :, None]) ** k[None, None, :]
    else:
        from bench.predictors.common import tidy_marginal_rewards

        delta = tidy_marginal_rewards(preds.reshape(n * n_dec, k_max)).reshape(n, n_dec, k_max)
        q_hat = problem.default_reward + np.cumsum(delta, axis=2)
    return np.where(k[None, None, :] <= problem.counts[:, :, None], q_hat, np.nan)


# ----------------------------------------------------------------------------- hulls


@dataclass(frozen=True)
class Hulls:
    """Every query's upper convex hull of (cost, reward) points, as flat segment arrays.

    Options are numbered ``d * K + (k - 1)``; the zero option is ``D * K``.  Segments are
    grouped by query (``query`` non-decreasing), in hull order within a query, slopes
    strictly positive and non-increasing.  ``rank`` orders a query's segments of equal slope
    (0, 1, 2, ... along the hull), so that ties across queries are shared level by level.
    """

    n_decoders: int
    k_max: int
    start_option: np.ndarray     # (n,)
    start_cost: np.ndarray       # (n,)
    start_reward: np.ndarray     # (n,)
    query: np.ndarray            # (m,)
    option: np.ndarray           # (m,) end vertex of each segment
    cost: np.ndarray             # (m,) cost increment
    gain: np.ndarray             # (m,) reward increment
    slope: np.ndarray            # (m,)
    rank: np.ndarray             # (m,)
    first: np.ndarray            # (n,) index of each query's first segment
    length: np.ndarray           # (n,) segments of each query
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def zero_option(self) -> int:
        return self.n_decoders * self.k_max

    def greedy_order(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segments by decreasing slope (stable), their slopes and cumulative costs; computed
        once and reused for every budget."""
        if not self._cache:
            order = np.argsort(-self.slope, kind="stable")
            self._cache["greedy"] = (order, self.slope[order], np.cumsum(self.cost[order]))
        return self._cache["greedy"]


def option_costs(costs: np.ndarray, k_max: int) -> np.ndarray:
    """Cost of every option, shape (D * K + 1,): k * cost(d), and 0 for the zero option."""
    k = np.arange(1, k_max + 1)
    return np.concatenate([(costs[:, None] * k[None, :]).ravel(), [0.0]])


def cost_hulls(q: np.ndarray, counts: np.ndarray, costs: np.ndarray, default_reward: float,
               allow_zero: bool) -> Hulls:
    """Upper convex hull of every query's options (monotone chain, vectorised over queries).

    Parameters
    ----------
    q : ndarray, shape (n, D, K)
        (Predicted) expected reward of each option; NaN past ``counts``.
    counts : ndarray of int, shape (n, D)
    costs : ndarray, shape (D,)
    default_reward : float
        Reward of the zero option.
    allow_zero : bool
        Whether the zero option exists.

    An option's cost k * cost(d) is the same for every query, so the options are sorted by
    cost once and Andrew's monotone chain runs over them with one stack per query: one
    Python step per option (D * K of them), each a few array operations over the queries.
    Only the rising part of the hull is kept (a point no better than a cheaper one is never
    bought).  The hull starts at the best option of least cost (a decoder call wins a tie with
    the zero option) and keeps collinear points as separate vertices, so that ties share
    budget level by level as :func:`bench.allocation.allocate_greedy` does.
    """
    n, n_dec, k_max = q.shape
    costs = np.asarray(costs, dtype=np.float64)
    counts = np.minimum(np.asarray(counts, dtype=np.int64), k_max)
    if np.any(counts.sum(axis=1) == 0) and not allow_zero:
        raise HardbenchError("a query has no samples from any chosen decoder and no zero option")
    start_option, start_cost, start_reward = _start_vertices(q, counts, costs, default_reward, allow_zero)
    per_cost = option_costs(costs, k_max)[:-1]
    order = np.argsort(per_cost, kind="stable")
    by_option = np.ascontiguousarray(q.reshape(n, n_dec * k_max).T)     # one contiguous row per option
    depth = 8
    stack_opt = np.zeros((n, depth), dtype=np.int64)
    stack_c = np.zeros((n, depth))
    stack_r = np.zeros((n, depth))
    stack_opt[:, 0], stack_c[:, 0], stack_r[:, 0] = start_option, start_cost, start_reward
    height = np.ones(n, dtype=np.int64)
    top_r = start_reward.copy()
    flat_c, flat_r = stack_c.reshape(-1), stack_r.reshape(-1)        # views: flat take/put is fast
    for opt in order:
        x = per_cost[opt]
        y = by_option[opt]
        live = np.flatnonzero(y > top_r)                     # NaN (no such sample) compares False
        if not live.size:
            continue
        cand = live
        while cand.size:                                     # pop what the new point covers
            h = height.take(cand)
            at = cand * depth + h
            x1, y1 = flat_c.take(at - 1), flat_r.take(at - 1)
            x2, y2 = flat_c.take(np.maximum(at - 2, 0)), flat_r.take(np.maximum(at - 2, 0))
            below = (h >= 2) & ((x1 == x) | ((y1 - y2) * (x - x2) < (y.take(cand) - y2) * (x1 - x2)))
            cand = cand[below]
            height[cand] -= 1
        h = height.take(live)
        if int(h.max()) >= depth:
            stack_opt, stack_c, stack_r = (np.concatenate([a, np.zeros_like(a)], axis=1)
                                           for a in (stack_opt, stack_c, stack_r))
            depth *= 2
            flat_c, flat_r = stack_c.reshape(-1), stack_r.reshape(-1)
        yl = y.take(live)
        at = live * depth + h
        stack_opt.reshape(-1)[at] = opt
        flat_c[at] = x
        flat_r[at] = yl
        height[live] = h + 1
        top_r[live] = yl
    return _assemble_stacks(n_dec, k_max, start_option, start_cost, start_reward, stack_opt, stack_c, stack_r,
                            height)


def _start_vertices(q: np.ndarray, counts: np.ndarray, costs: np.ndarray, default_reward: float,
                    allow_zero: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query: the best option among those of least cost (decoder calls win ties)."""
    n, n_dec, k_max = q.shape
    have = counts > 0
    first_cost = np.where(have, costs[None, :], np.inf)     # a decoder's cheapest call is k = 1
    least = first_cost.min(axis=1)
    if allow_zero:
        least = np.minimum(least, 0.0)
    # a free decoder's every k costs 0: its best k is its start candidate
    best_free_k = np.argmax(np.where(np.isnan(q), -np.inf, q), axis=2)
    k_idx = np.where(costs[None, :] == 0, best_free_k, 0)
    reward = np.take_along_axis(q, k_idx[:, :, None], axis=2)[:, :, 0]
    candidate = have & (first_cost == least[:, None])
    best_reward = np.where(candidate, reward, -np.inf)
    d = np.argmax(best_reward, axis=1)
    r = best_reward[np.arange(n), d]
    option = d * k_max + k_idx[np.arange(n), d]
    cost = least.copy()
    if allow_zero:
        zero_wins = ((least == 0) & (r < default_reward)) | ~np.isfinite(r)
        option = np.where(zero_wins, n_dec * k_max, option)
        r = np.where(zero_wins, default_reward, r)
        cost = np.where(zero_wins, 0.0, cost)
    return option.astype(np.int64), cost.astype(np.float64), r.astype(np.float64)


def _assemble_stacks(n_dec: int, k_max: int, start_option: np.ndarray, start_cost: np.ndarray,
                     start_reward: np.ndarray, stack_opt: np.ndarray, stack_c: np.ndarray, stack_r: np.ndarray,
                     height: np.ndarray) -> Hulls:
    """Flat segment arrays (grouped by query, in hull order) from the per-query vertex stacks."""
    n = len(height)
    seg = np.arange(1, stack_opt.shape[1])[None, :] < height[:, None]
    query = np.nonzero(seg)[0]
    cols = np.nonzero(seg)[1] + 1
    option = stack_opt[query, cols]
    cost = stack_c[query, cols] - stack_c[query, cols - 1]
    gain = stack_r[query, cols] - stack_r[query, cols - 1]
    slope = quantize_marginals(gain / cost)   # equal slopes tie on every CPU (see bench.allocation)
    same = np.zeros(query.size, dtype=bool)
    same[1:] = (query[1:] == query[:-1]) & (slope[1:] == slope[:-1])
    index = np.arange(query.size)
    run_start = np.maximum.accumulate(np.where(same, 0, index)) if query.size else index
    first = np.searchsorted(query, np.arange(n), side="left")
    return Hulls(n_dec, k_max, start_option, start_cost, start_reward, query.astype(np.int64),
                 option.astype(np.int64), cost, gain, slope, index - run_start, first, height - 1)


# ----------------------------------------------------------------------------- allocation


@dataclass(frozen=True)
class Allocation:
    """Per query, a mix of two options: ``high`` with probability ``frac``, ``low`` otherwise."""

    low: np.ndarray
    high: np.ndarray
    frac: np.ndarray


def allocate_hull_greedy(hulls: Hulls, budget: float) -> Allocation:
    """Exact LP optimum of the multiple-choice knapsack at mean cost <= ``budget``.

    Segments are bought in order of decreasing slope.  Every segment steeper than the
    threshold slope is bought; the segments at the threshold slope are bought level by level
    (``rank``) and the last level is shared: each of its segments gets the same fraction (for
    unit costs exactly what :func:`bench.allocation.allocate_greedy` does with tied units).
    Per budget this costs a binary search over the sorted slopes, one over each query's
    segments, and work on the tied block only.
    """
    n = hulls.start_option.size
    spare = budget * n - float(hulls.start_cost.sum())
    if spare < -1e-9 * max(1.0, abs(budget) * n):
        raise HardbenchError(f"budget {budget:g} is below the least mean cost "
                             f"{hulls.start_cost.mean():g} (every query needs at least its cheapest option)")
    order, sorted_slopes, cum = hulls.greedy_order()
    cut = int(np.searchsorted(cum, spare, side="right"))          # first segment not fully affordable
    if cut >= order.size or spare >= cum[-1] - 1e-12 * max(1.0, cum[-1]):
        return _positions(hulls, hulls.length, np.zeros(n), np.zeros(0, dtype=np.int64))
    threshold = sorted_slopes[cut]
    block_start = int(np.searchsorted(-sorted_slopes, -threshold, side="left"))
    block_end = int(np.searchsorted(-sorted_slopes, -threshold, side="right"))
    n_full = _count_steeper(hulls, threshold)
    frac = np.zeros(n)
    left = spare - (cum[block_start - 1] if block_start else 0.0)
    block = order[block_start:block_end]
    ranks = hulls.rank[block]
    partial = np.zeros(0, dtype=np.int64)
    if left > 0:
        for level in np.unique(ranks):
            members = block[ranks == level]
            level_cost = float(hulls.cost[members].sum())
            share = min(1.0, left / level_cost) if level_cost > 0 else 1.0
            if share >= 1.0:
                np.add.at(n_full, hulls.query[members], 1)
            else:
                frac[hulls.query[members]] = share
                partial = members
            left -= share * level_cost
            if share < 1.0 or left <= 1e-15 * max(1.0, spare):
                break
    return _positions(hulls, n_full, frac, partial)


def _count_steeper(hulls: Hulls, threshold: float) -> np.ndarray:
    """Per query, how many of its segments are strictly steeper than ``threshold`` (a binary
    search within each query's run of non-increasing slopes)."""
    lo = np.zeros_like(hulls.length)
    hi = hulls.length.copy()
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) >> 1
        idx = np.minimum(hulls.first + mid, max(hulls.slope.size - 1, 0))
        steeper = open_ & (hulls.slope[idx] > threshold)
        lo = np.where(steeper, mid + 1, lo)
        hi = np.where(open_ & ~steeper, mid, hi)


def _positions(hulls: Hulls, n_full: np.ndarray, frac: np.ndarray, partial: np.ndarray) -> Allocation:
    """Per query: the vertex after its ``n_full`` bought segments, and the next vertex with
    probability ``frac`` (the partly bought segments ``partial``)."""
    low = hulls.start_option.copy()
    bought = n_full > 0
    low[bought] = hulls.option[hulls.first[bought] + n_full[bought] - 1]
    high = low.copy()
    high[hulls.query[partial]] = hulls.option[partial]
    return Allocation(low.astype(np.int64), high.astype(np.int64), frac)


def option_values(q: np.ndarray, default_reward: float, options: np.ndarray) -> np.ndarray:
    """Per query i, the expected reward of option ``options[i]`` (zero option: the default)."""
    n, n_dec, k_max = q.shape
    zero = options == n_dec * k_max
    flat = q.reshape(-1)
    idx = np.arange(n) * (n_dec * k_max) + np.where(zero, 0, options)
    return np.where(zero, default_reward, flat[idx])


def score_allocation(q: np.ndarray, costs: np.ndarray, default_reward: float,
                     allocation: Allocation) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-query expected reward and expected cost of an allocation (true ``q``)."""
    per_option_cost = option_costs(np.asarray(costs, dtype=np.float64), q.shape[2])
    t = allocation.frac
    reward = ((1 - t) * option_values(q, default_reward, allocation.low)
              + np.where(t > 0, t * option_values(q, default_reward, allocation.high), 0.0))
    cost = (1 - t) * per_option_cost[allocation.low] + t * per_option_cost[allocation.high]
    return reward, cost


# ----------------------------------------------------------------------------- baselines


def least_mean_cost(problem: PortfolioProblem) -> float:
    """The smallest feasible budget: every query takes its cheapest option."""
    have = problem.counts > 0
    cheapest = np.where(have, problem.costs[None, :], np.inf).min(axis=1)
    if problem.allow_zero:
        cheapest = np.zeros(len(cheapest))
    return float(cheapest.mean())


def largest_mean_cost(problem: PortfolioProblem) -> float:
    """Every query takes its most expensive option (all samples of its dearest decoder)."""
    return float((problem.counts * problem.costs[None, :]).max(axis=1).mean())


def random_choice(problem: PortfolioProblem, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Random: every query flips the same coin between its cheapest and its dearest option.

    The cheapest is the least-cost call (the zero option only where no call is free, or where
    the query has no call at all); the dearest is all samples of the query's most expensive
    decoder.  P(dearest) = p is the same for every query, chosen so that the mean cost is B.
    Exact expectation.  With weak (cost 0) and strong (cost 1) at one sample each, it is
    random routing: strong with probability B.
    """
    n, n_dec, k_max = problem.q.shape
    have = problem.counts > 0
    call_cost = np.where(have, problem.costs[None, :], np.inf)
    d_cheap = np.argmin(call_cost, axis=1)
    cheap_cost = call_cost[np.arange(n), d_cheap]
    k_cheap = np.where(problem.costs[d_cheap] == 0, problem.counts[np.arange(n), d_cheap], 1)
    cheap_opt = d_cheap * k_max + np.maximum(k_cheap, 1) - 1
    use_zero = problem.allow_zero & ((cheap_cost > 0) | ~np.isfinite(cheap_cost))
    cheap_opt = np.where(use_zero, n_dec * k_max, cheap_opt)
    cheap_cost = np.where(use_zero, 0.0, cheap_cost)
    dear_total = np.where(have, problem.counts * problem.costs[None, :], -np.inf)
    d_dear = np.argmax(dear_total, axis=1)
    dear_opt = d_dear * k_max + problem.counts[np.arange(n), d_dear] - 1
    dear_cost = dear_total[np.arange(n), d_dear]
    no_call = ~have.any(axis=1)                      # only the zero option: cheapest = dearest
    dear_opt = np.where(no_call, cheap_opt, dear_opt)
    dear_cost = np.where(no_call, cheap_cost, dear_cost)
    spread = float((dear_cost - cheap_cost).sum())
    p = 0.0 if spread <= 0 else float(np.clip((budget * n - cheap_cost.sum()) / spread, 0.0, 1.0))
    return score_allocation(problem.q, problem.costs, problem.default_reward,
                            Allocation(cheap_opt, dear_opt, np.full(n, p)))


def uniform_cheapest(problem: PortfolioProblem, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Uniform best-of-k on the cheapest decoder: k = B / cost for every query (fractional k
    mixes floor and ceil; capped at the query's samples)."""
    d = int(np.argmin(problem.costs))
    if problem.costs[d] <= 0:
        raise HardbenchError("the cheapest decoder is free: uniform best-of-k on it is undefined")
    k = np.minimum(budget / problem.costs[d], problem.counts[:, d]).astype(np.float64)
    if not problem.allow_zero:
        k = np.maximum(k, np.minimum(1.0, problem.counts[:, d]))
    table = np.concatenate([np.full((len(k), 1), problem.default_reward), problem.q[:, d, :]], axis=1)
    return estimators.expected_reward(table, k), k * problem.costs[d]


@dataclass(frozen=True)
class SingleOptionFrontier:
    """The best single option at each cost: the upper hull of the per-option mean curve.

    ``options`` are the hull's vertices in cost order: (decoder index or -1 for the zero
    option, k); every query gets the same option, capped at its samples.
    """

    options: list[tuple[int, int]]
    mean_cost: np.ndarray
    mean_reward: np.ndarray
    excluded: list[str]


def single_option_frontier(problem: PortfolioProblem) -> SingleOptionFrontier:
    """Mean cost and reward of every single option (d, k) on this problem's queries; their hull.

    A decoder missing for some query is no single option (listed in ``excluded``).
    """
    n, n_dec, k_max = problem.q.shape
    points: list[tuple[float, float, int, int]] = []
    if problem.allow_zero:
        points.append((0.0, problem.default_reward, -1, 0))
    complete = (problem.counts > 0).all(axis=0)
    excluded = [name for name, ok in zip(problem.decoders, complete) if not ok]
    # capped at each query's samples: option (d, k) gives query i best-of-min(k, n_id)
    filled = problem.q
    if np.isnan(filled).any():
        filled = filled.copy()
        for k in range(1, k_max):
            gap = np.isnan(filled[:, :, k])
            filled[:, :, k][gap] = filled[:, :, k - 1][gap]
    mean_reward = filled.mean(axis=0)                                          # (D, K)
    k = np.arange(1, k_max + 1)
    mean_cost = np.minimum(k[None, None, :], problem.counts[:, :, None]).mean(axis=0) * problem.costs[:, None]
    top = problem.counts.max(axis=0)
    for d in np.flatnonzero(complete):
        points.extend((float(mean_cost[d, j]), float(mean_reward[d, j]), int(d), j + 1) for j in range(int(top[d])))
    if not points:
        raise HardbenchError("no decoder has samples for every query: there is no single option")
    hull = _upper_hull_points(points)
    return SingleOptionFrontier([(p[2], p[3]) for p in hull], np.array([p[0] for p in hull]),
                                np.array([p[1] for p in hull]), excluded)


def _single_option_values(problem: PortfolioProblem, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    if d < 0:
        n = len(problem.query_ids)
        return np.full(n, problem.default_reward), np.zeros(n)
    kk = np.minimum(k, problem.counts[:, d])
    return problem.q[np.arange(len(kk)), d, kk - 1], kk * problem.costs[d]


def _upper_hull_points(points: list[tuple[float, float, int, int]]) -> list[tuple[float, float, int, int]]:
    """Upper hull of (cost, reward, ...) points, from the least cost up to the best reward;
    rising slopes only (monotone chain on a few hundred points)."""
    ordered = sorted(points, key=lambda p: (p[0], -p[1]))
    start = ordered[0]
    hull = [start]
    for p in ordered[1:]:
        if p[1] <= hull[-1][1] or p[0] == hull[-1][0]:
            continue
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2][:2], hull[-1][:2]
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def best_single_option(problem: PortfolioProblem, frontier: SingleOptionFrontier,
                       budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-query reward and cost of the frontier at ``budget``: the two hull options around it,
    mixed (the same coin for every query); the dearest option beyond the frontier's end."""
    costs = frontier.mean_cost
    j = int(np.searchsorted(costs, budget, side="right")) - 1
    if j < 0:
        reward, cost = _single_option_values(problem, *frontier.options[0])
        return reward, cost
    if j >= len(costs) - 1:
        return _single_option_values(problem, *frontier.options[-1])
    t = (budget - costs[j]) / (costs[j + 1] - costs[j])
    r0, c0 = _single_option_values(problem, *frontier.options[j])
    r1, c1 = _single_option_values(problem, *frontier.options[j + 1])
    return (1 - t) * r0 + t * r1, (1 - t) * c0 + t * c1


# ----------------------------------------------------------------------------- curves


@dataclass(frozen=True)
class PortfolioCurves:
    """Per method: mean cost actually spent per budget and per-query expected rewards."""

    budgets: list[float]
    realized: dict[str, np.ndarray]
    per_query: dict[str, np.ndarray]
    frontier: SingleOptionFrontier


def default_portfolio_budgets(problem: PortfolioProblem, n_points: int = 21) -> list[float]:
    """Evenly spaced mean costs from the least feasible to where the oracle stops gaining."""
    low = least_mean_cost(problem)
    oracle = cost_hulls(problem.q, problem.counts, problem.costs, problem.default_reward, problem.allow_zero)
    top = float((oracle.start_cost.sum() + oracle.cost.sum()) / len(problem.query_ids))
    top = max(top, low, float(single_option_frontier(problem).mean_cost[-1]))
    return [float(x) for x in np.unique(np.round(np.linspace(low, top, n_points), 10))]


def check_portfolio_budgets(problem: PortfolioProblem, budgets: Sequence[float]) -> list[float]:
    """Sorted, de-duplicated budgets; each at least the least feasible mean cost."""
    low = least_mean_cost(problem)
    bad = [b for b in budgets if b < low - 1e-12 or not np.isfinite(b)]
    if bad:
        raise HardbenchError(f"budgets {bad} are below the least mean cost {low:g} of these decoders "
                             f"(every query needs its cheapest option)")
    return sorted({float(b) for b in budgets})


def compute_portfolio_curves(test: PortfolioProblem, test_pred: np.ndarray,
                             budgets: Sequence[float]) -> PortfolioCurves:
    """Allocate for every method and budget; exact per-query expected rewards."""
    n = len(test.query_ids)
    hulls = {
        "online": cost_hulls(predicted_q(test, test_pred), test.counts, test.costs, test.default_reward,
                             test.allow_zero),
        "oracle": cost_hulls(test.q, test.counts, test.costs, test.default_reward, test.allow_zero),
    }
    frontier = single_option_frontier(test)
    methods = [m for m in METHODS if m != "uniform" or test.costs.min() > 0]
    realized = {m: np.zeros(len(budgets)) for m in methods}
    per_query = {m: np.zeros((n, len(budgets))) for m in methods}
    for col, budget in enumerate(budgets):
        results = {m: score_allocation(test.q, test.costs, test.default_reward,
                                       allocate_hull_greedy(h, budget)) for m, h in hulls.items()}
        results["random"] = random_choice(test, budget)
        results["best_single"] = best_single_option(test, frontier, budget)
        if "uniform" in methods:
            results["uniform"] = uniform_cheapest(test, budget)
        for m in methods:
            reward, cost = results[m]
            per_query[m][:, col] = reward
            realized[m][col] = cost.mean()
    return PortfolioCurves(list(budgets), realized, per_query, frontier)


# ----------------------------------------------------------------------------- metrics


def area_under_hull(costs: np.ndarray, rewards: np.ndarray, low: float, high: float) -> float:
    """RouterBench's AIQ: mean over [low, high] of the non-decreasing upper concave hull of the
    (cost, reward) points (flat beyond the points: a method may always spend less)."""
    pts = _upper_hull_points([(float(c), float(r), 0, 0) for c, r in zip(costs, rewards)])
    xs = np.array([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    if high <= low:
        return float(np.interp(low, xs, ys))
    grid = np.union1d(xs[(xs > low) & (xs < high)], [low, high])
    return float(np.trapezoid(np.interp(grid, xs, ys), grid) / (high - low))


def portfolio_curve_points(curves: PortfolioCurves, n_bootstrap: int, seed: int
                           ) -> tuple[dict[str, list[dict[str, float]]], np.ndarray | None]:
    """Mean and 95 % percentile-bootstrap interval of every method at every budget, and the
    replicate means (replicates x methods * budgets) for :func:`portfolio_summary`.

    The same replicates as :func:`bench.scoring.curve_points` (bench.bootstrap, same seed), drawn
    once for the curves and the AIQ intervals.
    """
    methods = list(curves.per_query)
    stacked = np.concatenate([curves.per_query[m] for m in methods], axis=1)
    means = stacked.mean(axis=0)
    if n_bootstrap > 0:
        reps = bootstrap_means(stacked, n_bootstrap, seed)
        low, high = interval(reps)
    else:   # no replicates: no interval (null), never a zero-width one
        reps, low, high = None, np.full_like(means, np.nan), np.full_like(means, np.nan)
    width = len(curves.budgets)
    points = {}
    for k, method in enumerate(methods):
        sl = slice(k * width, (k + 1) * width)
        points[method] = [
            {"budget": b, "realized_budget": float(r), "mean": float(m), "ci_low": finite_or_none(lo),
             "ci_high": finite_or_none(hi)}
            for b, r, m, lo, hi in zip(curves.budgets, curves.realized[method], means[sl], low[sl], high[sl])]
    return points, reps


def portfolio_summary(curves: PortfolioCurves, test: PortfolioProblem, replicates: np.ndarray | None
                      ) -> dict[str, object]:
    """AIQ with intervals and paired differences against the best single option; cost saved
    at matched quality and quality gain against it; APGR and share@x% for two decoders.

    ``replicates``: the bootstrap replicate means of :func:`portfolio_curve_points` (None: no
    intervals)."""
    budgets = curves.budgets
    methods = list(curves.per_query)
    means = {m: curves.per_query[m].mean(axis=0) for m in methods}
    low, high = float(budgets[0]), float(budgets[-1])
    aiq = {m: area_under_hull(curves.realized[m], means[m], low, high) for m in methods}
    summary: dict[str, object] = {"baseline": BASELINE, "aiq": aiq}
    if replicates is not None:
        reps = replicates
        width = len(budgets)
        rep_aiq = {m: np.array([area_under_hull(curves.realized[m], row[k * width:(k + 1) * width], low, high)
                                for row in reps]) for k, m in enumerate(methods)}
        summary["aiq_ci"] = {m: [float(v) for v in np.quantile(rep_aiq[m], [0.025, 0.975])] for m in methods}
        diffs = {}
        for m in methods:
            if m == BASELINE:
                continue
            d = rep_aiq[m] - rep_aiq[BASELINE]
            lo_, hi_ = np.quantile(d, [0.025, 0.975])
            diffs[m] = {"diff": aiq[m] - aiq[BASELINE], "ci_low": float(lo_), "ci_high": float(hi_),
                        "p_le_0": sign_shares(d)[0]}
        summary["aiq_vs_best_single"] = diffs
    else:
        summary["aiq_ci"] = {m: None for m in methods}
        summary["aiq_vs_best_single"] = {m: {"diff": aiq[m] - aiq[BASELINE], "ci_low": None, "ci_high": None,
                                             "p_le_0": None} for m in methods if m != BASELINE}
    base = means[BASELINE]
    base_realized = curves.realized[BASELINE]
    others = [m for m in methods if m != BASELINE]
    summary["quality_gain"] = {m: quality_gain(budgets, means[m], base) for m in others}
    summary["area_between_curves"] = {m: area_between_curves(budgets, means[m], base) for m in others}
    positive = [b for b in budgets if b > 0]
    summary["compute_saved"] = {
        m: compute_saved(budgets, curves.realized[m], means[m], base, base_realized) for m in others
    } if positive else {}
    summary["best_single_options"] = [
        {"decoder": None if d < 0 else test.decoders[d], "k": k, "mean_cost": float(c), "mean_reward": float(r)}
        for (d, k), c, r in zip(curves.frontier.options, curves.frontier.mean_cost, curves.frontier.mean_reward)]
    summary["excluded_from_single"] = curves.frontier.excluded
    if len(test.decoders) == 2:
        summary.update(_two_decoder_metrics(curves, test, means))
    return summary


def _two_decoder_metrics(curves: PortfolioCurves, test: PortfolioProblem,
                         means: dict[str, np.ndarray]) -> dict[str, object]:
    """Routing's APGR and share@x% for routing-like pairs: one sample of each decoder per query,
    weak = the cheaper, strong = the dearer.

    The cost axis is rescaled to the strong-call share (cost - cost(weak)) / (cost(strong) -
    cost(weak)) and only budgets within [0, 1] of it count; with cost(weak) = 0 and cost(strong)
    = 1 this is today's routing metric.  Empty where the costs are equal (no strong share).
    """
    weak, strong = (0, 1) if test.costs[0] <= test.costs[1] else (1, 0)
    c_w, c_s = float(test.costs[weak]), float(test.costs[strong])
    if (test.counts != 1).any() or c_s <= c_w:
        return {}
    w_mean, s_mean = float(test.q[:, weak, 0].mean()), float(test.q[:, strong, 0].mean())
    out: dict[str, object] = {"weak": test.decoders[weak], "strong": test.decoders[strong],
                              "weak_mean": w_mean, "strong_mean": s_mean, "apgr": {}, "strong_share_for_pgr": {}}
    share = (np.asarray(curves.budgets) - c_w) / (c_s - c_w)
    inside = (share >= -1e-12) & (share <= 1 + 1e-12)
    if inside.sum() < 2:
        return {}
    for m, ys in means.items():
        xs = (curves.realized[m] - c_w) / (c_s - c_w)
        out["apgr"][m] = apgr(xs[inside], ys[inside], w_mean, s_mean)
        out["strong_share_for_pgr"][m] = strong_share_for_pgr(xs[inside], ys[inside], w_mean, s_mean)
    return out


def portfolio_intrinsic(test: PortfolioProblem, test_pred: np.ndarray, train: PortfolioProblem) -> dict[str, object]:
    """Test loss vs Avg (train mean per column) vs Opt; Spearman of the per-query mean.

    Loss: soft cross-entropy (Eq. 7) averaged over queries and decoders for
    ``success_prob_per_decoder``; squared error summed over each query's D * K marginals
    (Eq. 6) for ``marginal_rewards_per_decoder``.  Missing (query, decoder) pairs are left out.
    """
    from scipy.stats import spearmanr

    observed = np.repeat(test.counts > 0, test.target_width // len(test.decoders), axis=1)
    t, p = test.targets, np.asarray(test_pred, dtype=np.float64)
    train_mean = train.targets.mean(axis=0)
    avg = np.broadcast_to(train_mean, t.shape)
    if test.target_kind == TARGET_SUCCESS_PER_DECODER:
        name = "cross_entropy"
        loss, loss_avg, loss_opt = (soft_cross_entropy(t[observed], x[observed]) for x in (p, avg, t))
    else:
        name = "mse"
        mask = observed.astype(np.float64)
        loss, loss_avg, loss_opt = (squared_error(t * mask, x * mask) for x in (p, avg, t))
    score_t, score_p = t.mean(axis=1), p.mean(axis=1)
    rho = None if np.ptp(score_t) == 0 or np.ptp(score_p) == 0 else float(spearmanr(score_p, score_t).statistic)
    return {"target_kind": test.target_kind, "loss_name": name, "loss": loss, "loss_avg": loss_avg,
            "loss_opt": loss_opt, "spearman_mean_over_decoders": rho}
