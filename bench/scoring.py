"""Curves for every method, from a bank's exact expected rewards and a submission's predictions.

The bank is first reduced to a :class:`ScoringProblem`: per query, the exact expected reward
at every budget (``q_table``), how many units it may get (``caps``), and the training target
of the bank's setting.  Routing is the one-unit case: budget 0 is the weak decoder, 1 the
strong one, and the budget B is the share of strong calls.

Methods on every curve (the paper's sections 4.1-4.2):

``online``   greedy allocation of the test batch from the predicted marginals (Eq. 5)
``offline``  bins of predicted difficulty fitted on the held-out split, one budget per bin
``uniform``  (best-of-k) k = B for every query; ``random`` (routing) strong with probability B
``oracle``   the best allocation with *at most* B units, from the bank's true marginals: an
             upper bound, monotone in B (it never buys a unit that lowers the reward)
``oracle-exact``  the best allocation spending exactly B (the curve before hardbench 0.2.0;
             not monotone for routing, where the strong decoder is worse on some queries)

Every summary compares a method with the baseline *at the budget the method really spent*
(offline bins rarely hit B exactly): the baseline is evaluated exactly there, since uniform
and random allocations with fractional budgets are exact expectations (issue 11, bug 1).
The oracle is placed at its allowance B.  All summaries are vectorised over bootstrap
replicates (:mod:`bench.bootstrap`): row 0 is the sample, rows 1.. the replicates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench import estimators
from bench.allocation import GreedyAllocator, OfflineBinFitter, allocate_uniform
from bench.bank import Bank, RewardMatrix
from bench.bootstrap import interval, replicate_weights, sign_shares, split_replicates
from bench.errors import HardbenchError
from bench.metrics import (
    apgr_rows,
    compute_saved_rows,
    intrinsic_metrics,
    intrinsic_replicates,
    strong_share_rows,
    trapezoid_mean_rows,
)

#: the methods whose curves are summarised against the baseline
ADAPTIVE_METHODS: tuple[str, ...] = ("online", "offline", "oracle")
#: budgets at which headline gains and compute savings are reported (those on the grid)
HEADLINE_BUDGETS: dict[str, tuple[float, ...]] = {"routing": (0.2, 0.5, 0.8),
                                                   "best_of_k": (2.0, 4.0, 8.0, 16.0, 32.0, 64.0)}


@dataclass(frozen=True)
class ScoringProblem:
    """Everything scoring needs from a bank, as arrays in bank order.

    Attributes
    ----------
    setting : {"best_of_k", "routing"}
    target_kind : {"success_prob", "marginal_rewards", "preference"}
    q_table : ndarray, shape (n, b_max + 1)
        Exact expected reward at budget 0..b_max (routing: [weak, strong]); NaN past caps.
    caps : ndarray of int, shape (n,)
        Units available per query (sample count; 1 for routing).
    targets : ndarray, shape (n,) or (n, b_max)
        The training target of the setting (lambda, Delta or p(S > W)).
    min_budget : int
        Units every query must get (chat best-of-k: 1).
    decoders : tuple of str
        The decoders scored, in role order (best-of-k ``(d,)``, routing ``(weak, strong)``).
    dropped : dict of str to int
        Per split, the bank's queries left out because a chosen decoder has no sample of them.
    """

    setting: str
    reward_kind: str
    target_kind: str
    query_ids: np.ndarray
    splits: np.ndarray
    q_table: np.ndarray
    caps: np.ndarray
    targets: np.ndarray
    min_budget: int
    default_reward: float
    decoders: tuple[str, ...] = ()
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def b_max(self) -> int:
        return self.q_table.shape[1] - 1

    def subset(self, mask: np.ndarray) -> "ScoringProblem":
        """The same problem restricted to the queries in ``mask``."""
        return ScoringProblem(self.setting, self.reward_kind, self.target_kind, self.query_ids[mask],
                              self.splits[mask], self.q_table[mask], self.caps[mask],
                              self.targets[mask], self.min_budget, self.default_reward, self.decoders,
                              self.dropped)


def target_kind_of(setting: str, reward_kind: str) -> str:
    """The paper's training target for a setting (section 3.3)."""
    if setting == "routing":
        return "preference"
    return "success_prob" if reward_kind == "binary" else "marginal_rewards"


@dataclass(frozen=True)
class DecoderChoice:
    """Which of a bank's decoders a run scores, and in which setting.

    ``decoders`` are in role order: best-of-k ``(d,)``, routing ``(weak, strong)``.
    ``is_default``: the bank's own setting with its default decoders (``default_decoder`` /
    ``default_routing``, else the first / first two); such a run keeps the plain result path.
    """

    setting: str
    decoders: tuple[str, ...]
    is_default: bool

    @property
    def slug(self) -> str:
        """File-name part for a non-default choice: ``<d>`` or ``<weak>--<strong>`` (unsafe chars -> ``_``)."""
        return "--".join(re.sub(r"[^A-Za-z0-9._@+-]", "_", d) for d in self.decoders)


def choose_decoders(bank: Bank, *, setting: str | None = None, decoder: str | None = None,
                    weak: str | None = None, strong: str | None = None) -> DecoderChoice:
    """Resolve ``--setting/--decoder/--weak/--strong`` against a bank (defaults from its manifest).

    Best-of-k scores one decoder (``decoder``, else ``default_decoder``, else the first);
    routing a (weak, strong) pair (else ``default_routing``, else the first two), using each
    decoder's mean reward and the preference target over sample pairs.  Any multi-decoder
    bank can be scored in either setting.
    """
    setting = setting or bank.setting
    if setting not in ("best_of_k", "routing"):
        raise HardbenchError(f"--setting {setting!r}: expected best_of_k or routing")
    if setting == "best_of_k":
        if weak is not None or strong is not None:
            raise HardbenchError("--weak/--strong choose a routing pair; for best-of-k pass --decoder "
                                 "(or --setting routing)")
        chosen = (decoder or bank.default_decoder,)
        default = (bank.default_decoder,)
    else:
        if decoder is not None:
            raise HardbenchError("--decoder chooses the best-of-k decoder; for routing pass --weak and "
                                 "--strong (or --setting best_of_k)")
        default = tuple(bank.default_routing)
        if len(bank.decoders) < 2:
            raise HardbenchError(f"bank {bank.name!r} has one decoder ({bank.decoders[0]!r}); routing "
                                 "needs two")
        chosen = (weak or default[0], strong or default[1])
        if chosen[0] == chosen[1]:
            raise HardbenchError(f"--weak and --strong are both {chosen[0]!r}; routing needs two decoders")
    unknown = [d for d in chosen if d not in bank.decoders]
    if unknown:
        raise HardbenchError(f"bank {bank.name!r} has no decoder {unknown[0]!r}; decoders: "
                             f"{', '.join(bank.decoders)} (see `bench list banks`)")
    return DecoderChoice(setting, chosen, setting == bank.setting and chosen == default)


def problem_from_bank(bank: Bank, *, default_reward: float = 0.0, min_budget: int = 0,
                      b_max: int | None = None, choice: DecoderChoice | None = None) -> ScoringProblem:
    """Reduce a bank to exact per-query expected rewards and training targets.

    ``choice`` (see :func:`choose_decoders`) defaults to the bank's own setting and default
    decoders.  Queries for which a chosen decoder has no sample are *dropped* (counted per
    split in ``dropped``): no unbiased estimate exists there, and a zero would be a guess.
    ``b_max`` defaults to the largest sample count of the chosen decoder.
    """
    choice = choice or choose_decoders(bank)
    kind = target_kind_of(choice.setting, bank.reward_kind)
    matrices = [bank.reward_matrix(d) for d in choice.decoders]
    covered = np.logical_and.reduce([m.counts > 0 for m in matrices])
    splits_all = bank.queries["split"].to_numpy()
    dropped = {s: int(((splits_all == s) & ~covered).sum()) for s in ("train", "val", "test")}
    ids = bank.queries["query_id"].to_numpy()[covered]
    splits = splits_all[covered]
    matrices = [RewardMatrix(rewards=m.rewards[covered], counts=m.counts[covered]) for m in matrices]
    if choice.setting == "routing":
        weak, strong = matrices
        q_table = np.stack([estimators.mean_reward(weak.rewards, weak.counts),
                            estimators.mean_reward(strong.rewards, strong.counts)], axis=1)
        targets = estimators.preference_probability(strong.rewards, strong.counts, weak.rewards, weak.counts)
        return ScoringProblem("routing", bank.reward_kind, kind, ids, splits, q_table,
                              np.ones(len(ids), dtype=np.int64), targets, 0, default_reward,
                              choice.decoders, dropped)
    (matrix,) = matrices
    top = int(matrix.counts.max(initial=0)) if b_max is None else int(b_max)
    q_table = estimators.best_of_k_table(matrix.rewards, matrix.counts, top, default_reward)
    if kind == "success_prob":
        targets = estimators.mean_reward(matrix.rewards, matrix.counts)
    else:
        targets = np.nan_to_num(estimators.marginal_rewards(q_table), nan=0.0)
    return ScoringProblem("best_of_k", bank.reward_kind, kind, ids, splits, q_table,
                          np.minimum(matrix.counts, top), targets, min_budget, default_reward,
                          choice.decoders, dropped)


def baseline_method(setting: str) -> str:
    """The non-adaptive baseline of a setting: ``random`` routing or ``uniform`` best-of-k."""
    return "random" if setting == "routing" else "uniform"


def predicted_marginals(predictions: np.ndarray, target_kind: str, b_max: int) -> np.ndarray:
    """Turn predictions into non-increasing marginal-reward rows for the allocator.

    lambda -> lambda (1 - lambda)^(j-1); p(S > W) -> one column; a predicted Delta vector is
    made non-increasing by a running minimum (the greedy assumes diminishing returns).
    """
    if target_kind == "success_prob":
        return estimators.marginals_from_success_prob(predictions, b_max)
    if target_kind == "preference":
        return np.asarray(predictions, dtype=np.float64)[:, None]
    return np.minimum.accumulate(np.asarray(predictions, dtype=np.float64), axis=1)


def difficulty_score(values: np.ndarray, target_kind: str, min_budget: int = 0) -> np.ndarray:
    """Scalar per query: the first marginal reward beyond the minimum budget.

    lambda for binary best-of-k, p(S > W) for routing, Delta_{min_budget+1} for marginal
    vectors.  Higher means the first unit of compute is worth more (an "easier" query for
    best-of-k).  Used for offline bins, intrinsic accuracy/Spearman and Figure 6 terciles.
    """
    values = np.asarray(values, dtype=np.float64)
    return values if values.ndim == 1 else values[:, min(min_budget, values.shape[1] - 1)]


def default_budgets(problem: ScoringProblem) -> list[float]:
    """Routing: strong shares 0, 0.05, ..., 1.  Best-of-k: integers up to 16, then powers of two."""
    if problem.setting == "routing":
        return [round(x, 2) for x in np.linspace(0.0, 1.0, 21)]
    top = int(problem.caps.max())
    grid = set(range(problem.min_budget, min(16, top) + 1))
    power = 32
    while power < top:
        grid.add(power)
        power *= 2
    grid.add(top)
    return [float(b) for b in sorted(grid)]


def check_budgets(problem: ScoringProblem, budgets: Sequence[float]) -> list[float]:
    """Sorted, de-duplicated budgets within [min_budget, b_max] (routing: [0, 1])."""
    top = 1.0 if problem.setting == "routing" else float(problem.caps.max())
    low = float(problem.min_budget)
    bad = [b for b in budgets if not (low <= b <= top)]
    if bad:
        raise HardbenchError(f"budgets {bad} are outside [{low:g}, {top:g}] for this bank")
    return sorted({float(b) for b in budgets})


def uniform_target_for_spend(caps: np.ndarray, spend: np.ndarray, min_budget: int = 0) -> np.ndarray:
    """The uniform budget t whose capped allocation min(t, caps) spends ``spend`` on average.

    mean(min(t, caps)) is piecewise linear and increasing in t (breakpoints at the caps), so
    it is inverted exactly by interpolation; without ragged caps t = spend.
    """
    knots = np.unique(np.concatenate([[float(min_budget)], caps.astype(np.float64)]))
    spent = np.minimum(knots[:, None], caps[None, :]).mean(axis=1)
    return np.interp(spend, spent, knots)


def baseline_rewards(test: ScoringProblem, spend: np.ndarray) -> np.ndarray:
    """Per-query expected reward of the baseline spending ``spend`` (mean per query) at each column."""
    targets = uniform_target_for_spend(test.caps, np.asarray(spend, dtype=np.float64), test.min_budget)
    n = len(test.query_ids)
    return np.stack([estimators.expected_reward(test.q_table, allocate_uniform(n, t, test.caps))
                     for t in targets], axis=1)


@dataclass(frozen=True)
class CurveSet:
    """Per method: budgets actually spent (mean) and the per-query expected rewards.

    ``baseline_at[m]`` is the baseline's per-query reward at method m's summary budgets
    (:meth:`summary_budgets`), so every summary compares like with like.
    """

    budgets: list[float]
    realized: dict[str, np.ndarray]        # method -> (n_budgets,)
    per_query: dict[str, np.ndarray]       # method -> (n_queries, n_budgets)
    baseline_at: dict[str, np.ndarray]     # adaptive method -> (n_queries, n_budgets)
    online_allocations: np.ndarray         # (n_budgets, n_queries)
    offline_bins: int = 10

    def summary_budgets(self, method: str) -> np.ndarray:
        """Where a method sits in summaries: its realised budget; the oracle at its allowance B."""
        return np.asarray(self.budgets, dtype=np.float64) if method == "oracle" else self.realized[method]


class MethodAllocators:
    """Every method's per-query budgets on one test batch, at any mean budget B.

    What does not depend on B is computed once and shared across budgets and methods: the
    true and predicted marginals, their checks and sorted units (the oracle's at-most and
    exact allocations share one :class:`~bench.allocation.GreedyAllocator`), the difficulty
    scores and the offline bins with their mean curves.
    """

    def __init__(self, test: ScoringProblem, heldout: ScoringProblem, test_pred: np.ndarray,
                 heldout_pred: np.ndarray, n_bins: int, seed: int) -> None:
        # True marginals are non-increasing for best-of-k except possibly the first one, when
        # real rewards can fall below the budget-0 default; the running minimum keeps the greedy
        # valid there (then a lower bound on the optimum) and changes nothing elsewhere.
        delta_true = np.minimum.accumulate(estimators.marginal_rewards(test.q_table), axis=1)
        delta_hat = predicted_marginals(test_pred, test.target_kind, test.b_max)
        greedy = dict(min_budget=test.min_budget, seed=seed, sort_units=True)
        self._test = test
        self._online = GreedyAllocator(delta_hat, test.caps, **greedy)
        self._oracle = GreedyAllocator(delta_true, test.caps, **greedy)
        self._test_scores = difficulty_score(test_pred, test.target_kind, test.min_budget)
        self._offline = OfflineBinFitter(difficulty_score(heldout_pred, heldout.target_kind, heldout.min_budget),
                                         heldout.q_table, n_bins, min_budget=heldout.min_budget)

    def at(self, budgets: Sequence[float]) -> dict[str, np.ndarray]:
        """Every method's per-query budgets at each mean budget B: method -> (n_budgets, n_queries)."""
        test = self._test
        n = len(test.query_ids)
        totals = np.asarray(budgets, dtype=np.float64) * n
        return {
            "online": self._online.allocate_many(totals),
            "offline": np.stack([policy.apply(self._test_scores, test.caps)
                                 for policy in self._offline.fit_many(budgets)]),
            baseline_method(test.setting): np.stack([allocate_uniform(n, b, test.caps) for b in budgets]),
            "oracle": self._oracle.allocate_many(totals, at_most=True),
            "oracle-exact": self._oracle.allocate_many(totals),
        }


def compute_curves(test: ScoringProblem, heldout: ScoringProblem, test_pred: np.ndarray,
                   heldout_pred: np.ndarray, budgets: Sequence[float], *, n_bins: int = 10,
                   seed: int = 0) -> CurveSet:
    """Allocate for every method and budget; return exact per-query expected rewards."""
    n, width = len(test.query_ids), len(budgets)
    realized: dict[str, np.ndarray] = {}
    per_query: dict[str, np.ndarray] = {}
    online_allocations = np.zeros((width, n))
    allocations = MethodAllocators(test, heldout, test_pred, heldout_pred, n_bins, seed).at(budgets)
    online_allocations[:] = allocations["online"]
    for col in range(width):
        for method, by_budget in allocations.items():
            b = by_budget[col]
            realized.setdefault(method, np.zeros(width))[col] = b.mean()
            per_query.setdefault(method, np.zeros((n, width)))[:, col] = estimators.expected_reward(test.q_table, b)
    best_at_most_budget(realized, per_query)
    curves = CurveSet(list(budgets), realized, per_query, {}, online_allocations, n_bins)
    for method in ADAPTIVE_METHODS:
        curves.baseline_at[method] = baseline_rewards(test, curves.summary_budgets(method))
    return curves


def best_at_most_budget(realized: dict[str, np.ndarray], per_query: dict[str, np.ndarray]) -> None:
    """Make the oracle the best allocation found with at most B units, in place.

    The at-most greedy is exact when the true marginals are non-increasing (routing, binary
    best-of-k); with real rewards a first marginal below the budget-0 default is flattened by
    the running minimum, so at each B the oracle takes the best mean among the at-most greedy
    and every oracle allocation (at-most or exact) of a grid budget <= B.  Each is a valid
    allocation spending at most B, so the curve stays an upper bound of the exact oracle and
    becomes monotone in B (issue 11, bug 5).
    """
    candidates = np.concatenate([per_query["oracle"], per_query["oracle-exact"]], axis=1)
    spent = np.concatenate([realized["oracle"], realized["oracle-exact"]])
    width = per_query["oracle"].shape[1]
    order = np.r_[0:width, 0:width]                        # grid index of each candidate column
    means = candidates.mean(axis=0)
    for j in range(width):
        allowed = np.flatnonzero(order <= j)
        pick = allowed[np.argmax(means[allowed])]
        per_query["oracle"][:, j] = candidates[:, pick]
        realized["oracle"][j] = spent[pick]


@dataclass(frozen=True)
class ReplicateCurves:
    """Mean curves per replicate (row 0 = the sample): what every summary is a function of.

    ``xs[m]`` is method m's summary budgets, shape (n_budgets,) when the allocation is held
    fixed, (1 + R, n_budgets) when it is re-run per replicate (:mod:`bench.reallocate`).
    """

    budgets: list[float]
    means: dict[str, np.ndarray]           # method -> (1 + R, n_budgets)
    baseline_at: dict[str, np.ndarray]     # adaptive method -> (1 + R, n_budgets)
    xs: dict[str, np.ndarray]
    weak: np.ndarray                       # (1 + R,) routing: weak decoder alone
    strong: np.ndarray

    @property
    def n_replicates(self) -> int:
        return next(iter(self.means.values())).shape[0] - 1


def replicate_curves(curves: CurveSet, test: ScoringProblem, weights: np.ndarray) -> ReplicateCurves:
    """All mean curves of all replicates in one matrix product (allocations held fixed)."""
    blocks = {("curve", m): v for m, v in curves.per_query.items()}
    blocks.update({("base", m): v for m, v in curves.baseline_at.items()})
    if test.setting == "routing":
        blocks[("decoder", "weak")] = test.q_table[:, :1]
        blocks[("decoder", "strong")] = test.q_table[:, -1:]
    stacked = np.concatenate(list(blocks.values()), axis=1)
    means = weights @ stacked / stacked.shape[0]
    means[0] = stacked.sum(axis=0) / stacked.shape[0]     # the sample: bit-identical whatever the replicate count
    split = np.split(means, np.cumsum([v.shape[1] for v in blocks.values()])[:-1], axis=1)
    out = dict(zip(blocks, split))
    realized = {m: curves.summary_budgets(m) for m in ADAPTIVE_METHODS}
    realized[baseline_method(test.setting)] = curves.realized[baseline_method(test.setting)]
    nothing = np.full(weights.shape[0], np.nan)
    return ReplicateCurves(curves.budgets, {m: out[("curve", m)] for m in curves.per_query},
                           {m: out[("base", m)] for m in curves.baseline_at}, realized,
                           out.get(("decoder", "weak"), nothing[:, None])[:, 0],
                           out.get(("decoder", "strong"), nothing[:, None])[:, 0])


def curve_points(curves: CurveSet, reps: ReplicateCurves) -> dict[str, list[dict[str, float | None]]]:
    """Mean and percentile-bootstrap interval of every method at every budget (null without replicates)."""
    out: dict[str, list[dict[str, float | None]]] = {}
    for method, means in reps.means.items():
        low, high = interval(means[1:]) if reps.n_replicates else (None, None)
        out[method] = [
            {"budget": b, "realized_budget": float(curves.realized[method][j]), "mean": float(means[0, j]),
             "ci_low": None if low is None else float(low[j]), "ci_high": None if high is None else float(high[j])}
            for j, b in enumerate(curves.budgets)
        ]
    return out


def summary_replicates(reps: ReplicateCurves, setting: str) -> dict[str, object]:
    """Every curve summary as arrays over replicates (row 0 = the point estimate).

    Each adaptive method m is compared with the baseline at m's summary budgets: gain@B =
    m(B) - baseline(spent_m(B)); area between curves = the trapezoid mean of that gain over
    spent_m.  Compute saved and PGR shares read the curves over their summary budgets.
    """
    baseline = baseline_method(setting)
    base_means, base_x = reps.means[baseline], reps.xs[baseline]
    out: dict[str, object] = {"baseline": baseline, "quality_gain": {}, "area_between_curves": {}}
    for m in ADAPTIVE_METHODS:
        gain = reps.means[m] - reps.baseline_at[m]
        x_point = np.atleast_2d(reps.xs[m])[0]
        out["quality_gain"][m] = [{"budget": float(b), "realized_budget": float(x_point[j]), "gain": gain[:, j]}
                                  for j, b in enumerate(reps.budgets)]
        out["area_between_curves"][m] = trapezoid_mean_rows(reps.xs[m], gain)
    if setting == "routing":
        out["weak_mean"], out["strong_mean"] = reps.weak, reps.strong
        methods = list(ADAPTIVE_METHODS) + [baseline]
        out["apgr"] = {m: apgr_rows(reps.xs[m], reps.means[m], reps.weak, reps.strong) for m in methods}
        out["strong_share_for_pgr"] = {m: strong_share_rows(reps.xs[m], reps.means[m], reps.weak, reps.strong)
                                       for m in methods}
    else:
        out["compute_saved"] = {m: compute_saved_rows(reps.budgets, reps.xs[m], reps.means[m], base_means, base_x)
                                for m in ADAPTIVE_METHODS}
    return out


def headline_replicates(tree: dict[str, object], setting: str) -> dict[str, dict[str, np.ndarray]]:
    """Per adaptive method, each headline metric over replicates (row 0 = the point estimate).

    ``apgr`` (routing), ``area_between_curves``, ``gain@B`` and (best-of-k) ``compute_saved@B``
    at :data:`HEADLINE_BUDGETS` on the grid.  All but ``apgr`` are already differences with the
    baseline (0 = no better); :func:`advantage_over_baseline` subtracts the baseline's APGR.
    Paired comparisons of two submissions subtract these trees replicate by replicate.
    """
    wanted = HEADLINE_BUDGETS[setting]
    out: dict[str, dict[str, np.ndarray]] = {}
    for m in ADAPTIVE_METHODS:
        metrics: dict[str, np.ndarray] = {}
        if setting == "routing":
            metrics["apgr"] = tree["apgr"][m]
        metrics["area_between_curves"] = tree["area_between_curves"][m]
        for point in tree["quality_gain"][m]:
            if point["budget"] in wanted:
                metrics[f"gain@{point['budget']:g}"] = point["gain"]
        for point in tree.get("compute_saved", {}).get(m, []):
            if point["budget"] in wanted:
                metrics[f"compute_saved@{point['budget']:g}"] = point["saving_pct"]
        out[m] = metrics
    return out


def advantage_over_baseline(headline: dict[str, dict[str, np.ndarray]], tree: dict[str, object],
                            setting: str) -> dict[str, dict[str, np.ndarray]]:
    """Headline metrics minus the baseline's value (only APGR is not a difference already)."""
    if setting != "routing":
        return headline
    base = tree["apgr"][baseline_method(setting)]
    return {m: {k: (v - base if k == "apgr" else v) for k, v in metrics.items()} for m, metrics in headline.items()}


def paired_summary(diffs: dict[str, dict[str, np.ndarray]], has_replicates: bool) -> dict[str, dict[str, dict]]:
    """``{"diff", "ci_low", "ci_high", "p_le_0"}`` per method and metric from replicate differences.

    ``p_le_0`` is the share of replicates whose difference is <= 0 (undefined ones left out;
    differences within :data:`bench.bootstrap.TIE_TOLERANCE` of 0 are ties, so that the share
    does not depend on the CPU's float summation order):
    small values mean the first side is better on almost every resample.  ``p_ge_0`` is the
    mirror image (small: the second side is better), so identical sides give 1 and 1.
    """
    out: dict[str, dict[str, dict]] = {}
    for method, metrics in diffs.items():
        out[method] = {}
        for name, values in metrics.items():
            point, ci = split_replicates(values, has_replicates)
            defined = values[1:][~np.isnan(values[1:])]
            usable = has_replicates and defined.size > 0
            p_le_0, p_ge_0 = sign_shares(defined) if usable else (None, None)
            out[method][name] = {"diff": point, "ci_low": None if ci is None else ci[0],
                                 "ci_high": None if ci is None else ci[1],
                                 "p_le_0": p_le_0, "p_ge_0": p_ge_0}
    return out


def allocation_by_bin(curves: CurveSet, test: ScoringProblem, test_pred: np.ndarray) -> dict[str, object] | None:
    """Share of the online budget spent on each tercile of predicted difficulty (Figure 6)."""
    if test.setting == "routing":
        return None
    scores = difficulty_score(test_pred, test.target_kind, test.min_budget)
    order = np.argsort(-scores, kind="stable")            # easy (high first marginal) first
    terciles = np.array_split(order, 3)
    budgets, shares = [], []
    for col, budget in enumerate(curves.budgets):
        spent = curves.online_allocations[col]
        total = spent.sum()
        if total <= 0:
            continue
        budgets.append(budget)
        shares.append([float(spent[idx].sum() / total) for idx in terciles])
    return {"bins": ["easy", "medium", "hard"], "budgets": budgets, "share": shares}


def intrinsic(test: ScoringProblem, test_pred: np.ndarray, train: ScoringProblem,
              weights: np.ndarray | None = None) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    """The predictor's test loss vs Avg (train mean) vs Opt, accuracy, Spearman, ECE.

    Returns (the Table-1 dictionary, its numbers as arrays over the rows of ``weights``).
    """
    train_mean = train.targets.mean(axis=0)
    target_scores = difficulty_score(test.targets, test.target_kind, test.min_budget)
    predicted_scores = difficulty_score(test_pred, test.target_kind, test.min_budget)
    table = intrinsic_metrics(test.target_kind, test.targets, test_pred, train_mean, target_scores, predicted_scores)
    weights = np.ones((1, len(test_pred))) if weights is None else weights
    reps = intrinsic_replicates(test.target_kind, test.targets, test_pred, train_mean, target_scores,
                                predicted_scores, weights)
    return table, reps


@dataclass(frozen=True)
class Scored:
    """Everything ``bench run`` writes about the numbers of one submission on one bank."""

    curves: CurveSet
    points: dict[str, list[dict[str, float | None]]]
    summary: dict[str, object]
    intrinsic: dict[str, object]
    headline: dict[str, dict[str, np.ndarray]]


def score(test: ScoringProblem, heldout: ScoringProblem, train: ScoringProblem, test_pred: np.ndarray,
          heldout_pred: np.ndarray, budgets: Sequence[float], *, n_bins: int, seed: int, n_bootstrap: int,
          reallocate: bool = False) -> Scored:
    """Curves, summaries with intervals, Table-1 metrics with intervals, paired-vs-baseline.

    Every interval uses the same replicates: :func:`bench.bootstrap.replicate_weights` of
    (n_test, n_bootstrap, seed).  ``reallocate`` re-runs the allocation in each replicate
    (:mod:`bench.reallocate`) instead of holding it fixed.
    """
    curves = compute_curves(test, heldout, test_pred, heldout_pred, budgets, n_bins=n_bins, seed=seed)
    weights = replicate_weights(len(test.query_ids), n_bootstrap, seed)
    if reallocate:
        from bench.reallocate import reallocated_replicates

        reps = reallocated_replicates(curves, test, heldout, test_pred, heldout_pred, weights, seed)
    else:
        reps = replicate_curves(curves, test, weights)
    tree = summary_replicates(reps, test.setting)
    summary, ci = split_replicates(tree, n_bootstrap > 0)
    table, intrinsic_reps = intrinsic(test, test_pred, train, weights)
    intrinsic_point, intrinsic_ci = split_replicates(intrinsic_reps, n_bootstrap > 0)
    table["ci"] = intrinsic_ci
    headline = headline_replicates(tree, test.setting)
    summary["ci"] = ci
    summary["paired_vs_baseline"] = paired_summary(advantage_over_baseline(headline, tree, test.setting),
                                                   n_bootstrap > 0)
    return Scored(curves, curve_points(curves, reps), summary, table, headline)
