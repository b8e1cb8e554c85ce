"""Curves for every method, from a bank's exact expected rewards and a submission's predictions.

The bank is first reduced to a :class:`ScoringProblem`: per query, the exact expected reward
at every budget (``q_table``), how many units it may get (``caps``), and the training target
of the bank's setting.  Routing is the one-unit case: budget 0 is the weak decoder, 1 the
strong one, and the budget B is the share of strong calls.

Methods on every curve (the paper's sections 4.1-4.2):

``online``   greedy allocation of the test batch from the predicted marginals (Eq. 5)
``offline``  bins of predicted difficulty fitted on the held-out split, one budget per bin
``uniform``  (best-of-k) k = B for every query; ``random`` (routing) strong with probability B
``oracle``   greedy allocation from the bank's true marginals (an upper bound)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench import estimators
from bench.allocation import allocate_greedy, allocate_uniform, fit_offline_bins
from bench.bank import Bank, RewardMatrix
from bench.bootstrap import percentile_interval
from bench.errors import HardbenchError
from bench.metrics import (
    apgr,
    area_between_curves,
    compute_saved,
    intrinsic_metrics,
    quality_gain,
    strong_share_for_pgr,
)


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


@dataclass(frozen=True)
class CurveSet:
    """Per method: budgets actually spent (mean) and the per-query expected rewards."""

    budgets: list[float]
    realized: dict[str, np.ndarray]        # method -> (n_budgets,)
    per_query: dict[str, np.ndarray]       # method -> (n_queries, n_budgets)
    online_allocations: np.ndarray         # (n_budgets, n_queries)


def compute_curves(test: ScoringProblem, heldout: ScoringProblem, test_pred: np.ndarray,
                   heldout_pred: np.ndarray, budgets: Sequence[float], *, n_bins: int = 10,
                   seed: int = 0) -> CurveSet:
    """Allocate for every method and budget; return exact per-query expected rewards."""
    n = len(test.query_ids)
    kind, b_max = test.target_kind, test.b_max
    delta_hat = predicted_marginals(test_pred, kind, b_max)
    # True marginals are non-increasing for best-of-k except possibly the first one, when
    # real rewards can fall below the budget-0 default; the running minimum keeps the greedy
    # valid there (then a lower bound on the optimum) and changes nothing elsewhere.
    delta_true = np.minimum.accumulate(estimators.marginal_rewards(test.q_table), axis=1)
    test_scores = difficulty_score(test_pred, kind, test.min_budget)
    heldout_scores = difficulty_score(heldout_pred, kind, heldout.min_budget)
    baseline = baseline_method(test.setting)
    methods = ("online", "offline", baseline, "oracle")
    realized = {m: np.zeros(len(budgets)) for m in methods}
    per_query = {m: np.zeros((n, len(budgets))) for m in methods}
    online_allocations = np.zeros((len(budgets), n))
    for col, budget in enumerate(budgets):
        total = budget * n
        allocations = {
            "online": allocate_greedy(delta_hat, total, test.caps, min_budget=test.min_budget, seed=seed),
            "offline": fit_offline_bins(heldout_scores, heldout.q_table, budget, n_bins,
                                        min_budget=heldout.min_budget).apply(test_scores, test.caps),
            baseline: allocate_uniform(n, budget, test.caps),
            "oracle": allocate_greedy(delta_true, total, test.caps, min_budget=test.min_budget, seed=seed),
        }
        online_allocations[col] = allocations["online"]
        for method, b in allocations.items():
            realized[method][col] = b.mean()
            per_query[method][:, col] = estimators.expected_reward(test.q_table, b)
    return CurveSet(list(budgets), realized, per_query, online_allocations)


def curve_points(curves: CurveSet, n_bootstrap: int, seed: int) -> dict[str, list[dict[str, float]]]:
    """Mean and percentile-bootstrap interval of every method at every budget."""
    methods = list(curves.per_query)
    stacked = np.concatenate([curves.per_query[m] for m in methods], axis=1)
    low, high = percentile_interval(stacked, n_bootstrap, seed)
    means = stacked.mean(axis=0)
    width = len(curves.budgets)
    out: dict[str, list[dict[str, float]]] = {}
    for k, method in enumerate(methods):
        sl = slice(k * width, (k + 1) * width)
        out[method] = [
            {"budget": b, "realized_budget": float(r), "mean": float(m), "ci_low": float(lo), "ci_high": float(hi)}
            for b, r, m, lo, hi in zip(curves.budgets, curves.realized[method], means[sl], low[sl], high[sl])
        ]
    return out


def summarize(points: dict[str, list[dict[str, float]]], test: ScoringProblem) -> dict[str, object]:
    """Compute saved, quality gain and area (best-of-k); APGR and PGR shares (routing)."""
    baseline = baseline_method(test.setting)
    budgets = [p["budget"] for p in points[baseline]]
    base_means = [p["mean"] for p in points[baseline]]
    adaptive = [m for m in ("online", "offline", "oracle") if m in points]
    summary: dict[str, object] = {"baseline": baseline, "quality_gain": {}, "area_between_curves": {}}
    for m in adaptive:
        means = [p["mean"] for p in points[m]]
        summary["quality_gain"][m] = quality_gain(budgets, means, base_means)
        summary["area_between_curves"][m] = area_between_curves(budgets, means, base_means)
    if test.setting == "routing":
        weak, strong = float(test.q_table[:, 0].mean()), float(test.q_table[:, 1].mean())
        summary["weak_mean"], summary["strong_mean"] = weak, strong
        summary["apgr"] = {m: apgr([p["realized_budget"] for p in points[m]], [p["mean"] for p in points[m]],
                                   weak, strong) for m in adaptive + [baseline]}
        summary["strong_share_for_pgr"] = {
            m: strong_share_for_pgr([p["realized_budget"] for p in points[m]], [p["mean"] for p in points[m]],
                                    weak, strong) for m in adaptive + [baseline]}
    else:
        summary["compute_saved"] = {
            m: compute_saved(budgets, [p["realized_budget"] for p in points[m]], [p["mean"] for p in points[m]],
                             base_means, [p["realized_budget"] for p in points[baseline]]) for m in adaptive}
    return summary


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


def intrinsic(test: ScoringProblem, test_pred: np.ndarray, train: ScoringProblem) -> dict[str, object]:
    """The predictor's test loss vs Avg (train mean) vs Opt, accuracy, Spearman, ECE."""
    train_mean = train.targets.mean(axis=0)
    return intrinsic_metrics(
        test.target_kind, test.targets, test_pred, train_mean,
        difficulty_score(test.targets, test.target_kind, test.min_budget),
        difficulty_score(test_pred, test.target_kind, test.min_budget),
    )
