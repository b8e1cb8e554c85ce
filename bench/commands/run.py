"""``bench run --task T --submission S``: score a submission and write its result file."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from tabulate import tabulate

from bench.errors import HardbenchError, HardbenchWarning
from bench.runner import RunOptions, run_benchmark, run_portfolio_benchmark

HELP = "score a submission on a task's sample bank and write a result file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="task name (see `bench list tasks`)")
    parser.add_argument("--submission", required=True, help="submission name under submissions/, or a folder")
    parser.add_argument("--bank", default=None, help="bank name under tasks/<task>/banks/, or a bank folder "
                        "(default: the task's default bank)")
    parser.add_argument("--train-bank", default=None,
                        help="fit the predictor on this bank's train/val split (name or folder) and score it on "
                             "--bank's test split: a generalization run (same setting and target kind)")
    parser.add_argument("--budgets", type=float, nargs="+", default=None,
                        help="budgets to evaluate (best-of-k: mean samples per query; routing: strong share)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (0: no intervals)")
    parser.add_argument("--reallocate-bootstrap", action="store_true",
                        help="re-run the allocation inside every bootstrap replicate (online on the resampled "
                             "test batch, offline bins refitted on a resampled held-out split) instead of holding "
                             "it fixed: wider, more honest intervals; about one scoring pass per replicate")
    parser.add_argument("--seed", type=int, default=0, help="seed for the bootstrap and the submission")
    parser.add_argument("--bins", type=int, default=10,
                        help="offline allocation: bins of predicted difficulty (at most one per 10 held-out queries)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds the submission may run")
    parser.add_argument("--out", default=None, help="write under this folder instead of results/")
    parser.add_argument("--setting", choices=("best_of_k", "routing", "portfolio"), default=None,
                        help="score a multi-decoder bank in this setting (default: the bank's own); portfolio: "
                             "allocate over several decoders with costs (docs/portfolio.md)")
    parser.add_argument("--decoder", default=None, help="best-of-k: the decoder whose samples are scored "
                        "(default: the bank's default_decoder, else its first; see `bench list banks`)")
    parser.add_argument("--weak", default=None, help="routing: the weak decoder (default: the bank's "
                        "default_routing, else its first decoder)")
    parser.add_argument("--strong", default=None, help="routing: the strong decoder (default: the bank's "
                        "default_routing, else its second decoder)")
    parser.add_argument("--decoders", nargs="+", default=None,
                        help="portfolio: decoders to allocate over (default: every decoder of the bank)")
    parser.add_argument("--cost-unit", default=None,
                        help="portfolio: the manifest's cost unit (checked), or 'call' for 1 per sample")
    parser.add_argument("--allow-path", action="append", default=[], metavar="PATH",
                        help="a folder a code submission may also read under bubblewrap (read-only; "
                        "repeatable; recorded in the result's isolation field), e.g. a Hugging Face cache")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    options = RunOptions(bank=args.bank, budgets=args.budgets, bootstrap=args.bootstrap, seed=args.seed,
                         out_dir=Path(args.out) if args.out else None, timeout_s=args.timeout, n_bins=args.bins,
                         train_bank=args.train_bank, reallocate_bootstrap=args.reallocate_bootstrap,
                         setting=None if args.setting == "portfolio" else args.setting,
                         decoder=args.decoder, weak=args.weak, strong=args.strong,
                         allow_paths=tuple(args.allow_path))
    if args.setting == "portfolio":
        if args.decoder or args.weak or args.strong or args.train_bank or args.reallocate_bootstrap:
            raise HardbenchError("--setting portfolio takes --decoders (and --cost-unit); --decoder, --weak, "
                                 "--strong, --train-bank and --reallocate-bootstrap belong to best-of-k and routing")
        path, result = run_portfolio_benchmark(args.task, args.submission, options, decoders=args.decoders,
                                               cost_unit=args.cost_unit)
        print(format_portfolio_result(result))
        print(f"\nwrote {path}")
        return 0
    if args.decoders or args.cost_unit:
        raise HardbenchError("--decoders and --cost-unit belong to --setting portfolio")
    with warnings.catch_warnings():   # format_result prints the result's warnings itself
        warnings.simplefilter("ignore", HardbenchWarning)
        path, result = run_benchmark(args.task, args.submission, options)
    print(format_result(result))
    print(f"\nwrote {path}")
    return 0


def number(value: float | None, ci: list[float | None] | None, digits: int = 3, signed: bool = False) -> str:
    """``0.652 [0.610, 0.690]``; the point alone without an interval; ``n/a`` for a missing value."""
    if value is None:
        return "n/a"
    spec = f"{'+' if signed else ''}.{digits}f"
    if ci is None:
        return format(value, spec)
    low, high = ("-inf" if ci[0] is None else format(ci[0], spec)), ("inf" if ci[1] is None else format(ci[1], spec))
    return f"{format(value, spec)} [{low}, {high}]"


def includes_zero(ci: list[float | None] | None) -> bool:
    """Whether an interval (None bound = unbounded) contains 0; False without an interval."""
    return ci is not None and (ci[0] is None or ci[0] <= 0) and (ci[1] is None or ci[1] >= 0)


def saved_cell(point: dict[str, Any], ci: dict[str, Any] | None) -> str:
    """Compute saved at one budget: ``41% [12, 60]``, or ``n.s. [-20, 40]`` when the interval holds 0."""
    interval = None if ci is None else ci["saving_pct"]
    value = point["saving_pct"]
    if value is None:
        return "never" if point["matched_budget"] is None else "n/a"
    text = number(value, interval, digits=0)
    return f"n.s. {text[text.index('['):]}" if includes_zero(interval) else text.replace(" [", "% [", 1) \
        if interval is not None else f"{value:.0f}%"


def curve_table(result: dict[str, Any]) -> str:
    """Every method's mean reward per budget with its interval (offline: @ realised budget)."""
    curves = result["curves"]
    methods = [m for m in ("online", "offline", "uniform", "random", "oracle") if m in curves]
    rows = []
    for i, budget in enumerate(result["budgets"]):
        row: list[Any] = [budget]
        for m in methods:
            p = curves[m][i]
            ci = None if p["ci_low"] is None else [p["ci_low"], p["ci_high"]]
            cell = number(p["mean"], ci)
            if m == "offline" and abs(p["realized_budget"] - p["budget"]) > 1e-9:
                cell += f" @{p['realized_budget']:.2f}"
            row.append(cell)
        rows.append(row)
    unit = "strong share" if result["setting"] == "routing" else "samples/query"
    return tabulate(rows, headers=[f"budget ({unit})"] + methods, floatfmt="g")


def summary_table(result: dict[str, Any]) -> str:
    """Headline summaries per adaptive method, each with its interval."""
    summary, ci = result["summary"], result["summary"].get("ci")
    pick = lambda *keys: _dig(ci, keys)  # noqa: E731
    rows = []
    if result["setting"] == "routing":
        headers = ["method", "APGR", "share for 50% PGR", "share for 80% PGR", f"area vs {summary['baseline']}"]
        for m in ("online", "offline", "oracle", "random"):
            shares = summary["strong_share_for_pgr"][m]
            rows.append([m, number(summary["apgr"][m], pick("apgr", m)),
                         "never" if shares["50"] is None else number(shares["50"], pick("strong_share_for_pgr", m, "50")),
                         "never" if shares["80"] is None else number(shares["80"], pick("strong_share_for_pgr", m, "80")),
                         "" if m == "random" else number(summary["area_between_curves"][m],
                                                         pick("area_between_curves", m), 4, True)])
    else:
        shown = [i for i, s in enumerate(summary["compute_saved"]["online"]) if s["budget"] in (2, 4, 8, 16, 32, 64)]
        headers = ["method", f"area vs {summary['baseline']}"] + [
            f"saved@{summary['compute_saved']['online'][i]['budget']:g}" for i in shown]
        for m in ("online", "offline", "oracle"):
            saved_ci = pick("compute_saved", m)
            rows.append([m, number(summary["area_between_curves"][m], pick("area_between_curves", m), 4, True)]
                        + [saved_cell(summary["compute_saved"][m][i], None if saved_ci is None else saved_ci[i])
                           for i in shown])
    return tabulate(rows, headers=headers)


def intrinsic_table(result: dict[str, Any]) -> str:
    """The Table-1 numbers with their intervals."""
    intr = result["intrinsic"]
    ci = intr.get("ci") or {}
    keys = ("loss", "loss_avg", "loss_opt", "median_accuracy", "spearman", "ece")
    return tabulate([[number(intr[k], ci.get(k), 4 if k.startswith("loss") else 3) for k in keys]],
                    headers=[f"loss ({intr['loss_name']})", "Avg", "Opt", "median-acc", "spearman", "ECE"])


def _dig(tree: Any, keys: tuple[Any, ...]) -> Any:
    for key in keys:
        if tree is None:
            return None
        tree = tree[key]
    return tree


def format_result(result: dict[str, Any]) -> str:
    """Curves, headline summaries and intrinsic metrics, each number with its 95 % interval."""
    boot = result["bootstrap"]
    ci_text = (f"95% bootstrap CI over {boot} replicates"
               + (", allocation re-run in each" if result.get("bootstrap_allocation") == "reallocated" else "")
               if boot > 0 else "no intervals (--bootstrap 0)")
    train = f", predictor fitted on {result['train_bank']}" if result.get("train_bank") else ""
    lines = [f"{result['task']} / {result['bank']} / {result['submission']}  ({result['setting']}, "
             f"{result['n_queries']} {result['split']} queries, {ci_text}, seed {result['seed']}{train})",
             f"signature: {result['signature']}"]
    if result.get("decoders"):
        lines.append("decoders: " + " -> ".join(result["decoders"]))
    dropped = result.get("dropped_queries")
    if dropped:
        lines.append("dropped (a chosen decoder has no sample of them): "
                     + ", ".join(f"{n} {split}" for split, n in dropped.items() if n))
    lines += ["", curve_table(result),
              "(offline: @x = realised mean budget when it differs from the target; oracle: best with at most B)",
              "", summary_table(result)]
    if result["setting"] != "routing":
        lines.append("(saved@B: compute saved at the uniform curve's quality at B; n.s. = interval includes 0)")
    lines += ["", intrinsic_table(result)]
    lines += [f"warning: {w}" for w in result.get("warnings", [])]
    return "\n".join(lines)


def _cell(point: dict[str, Any], show_realized: bool) -> str:
    """One curve point: mean with its interval, and ``@x`` where the budget spent differs."""
    ci = None if point["ci_low"] is None else [point["ci_low"], point["ci_high"]]
    text = number(point["mean"], ci)
    if show_realized and abs(point["realized_budget"] - point["budget"]) > 1e-9:
        text += f" @{point['realized_budget']:.2f}"
    return text


def _frontier_text(options: list[dict[str, Any]]) -> str:
    """The best single options, runs of one decoder with consecutive k joined: ``d x1-50``.

    >>> _frontier_text([{"decoder": None, "k": 0}, {"decoder": "a", "k": 1}, {"decoder": "a", "k": 2},
    ...                 {"decoder": "a", "k": 3}, {"decoder": "b", "k": 5}])
    'none x0, a x1-3, b x5'
    """
    runs: list[list[Any]] = []          # [decoder, first k, last k]
    for b in options:
        if runs and runs[-1][0] == b["decoder"] and b["k"] == runs[-1][2] + 1:
            runs[-1][2] = b["k"]
        else:
            runs.append([b["decoder"], b["k"], b["k"]])
    return ", ".join(f"{'none' if d is None else d} x{lo}" + (f"-{hi}" if hi != lo else "") for d, lo, hi in runs)


def format_portfolio_result(result: dict[str, Any]) -> str:
    """The portfolio curves (reward vs mean cost) and the AIQ table against the best single option."""
    from bench.portfolio import cost_sources_text

    curves = result["curves"]
    methods = [m for m in ("online", "uniform", "random", "best_single", "oracle") if m in curves]
    unit = next(iter(result["costs"].values()))["unit"]
    lines = [f"{result['task']} / {result['bank']} / {result['submission']}  (portfolio over "
             f"{len(result['decoders'])} decoders, {result['n_queries']} {result['split']} queries, "
             f"95% bootstrap CI over {result['bootstrap']} replicates, seed {result['seed']})",
             f"signature: {result['signature']}",
             f"cost per sample ({unit}): " + ", ".join(f"{d} {result['costs'][d]['value']:g}" for d in result["decoders"])
             + "; source: " + cost_sources_text(result["decoders"], result["costs"]),
             ""]
    header = f"{'budget':>9} | " + " | ".join(f"{m:^28}" for m in methods)
    lines += [f"{'(' + unit + ')':>9}", header, "-" * len(header)]
    for i, budget in enumerate(result["budgets"]):
        cells = " | ".join(f"{_cell(curves[m][i], True):^28}" for m in methods)
        lines.append(f"{budget:>9.4g} | {cells}")
    lines.append("(@x = mean cost actually spent when below the budget: nothing is bought that gains nothing)")
    summary = result["summary"]
    lines.append("")
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    for m in methods:
        ci = summary["aiq_ci"].get(m)
        text = f"{m:>11}: AIQ {summary['aiq'][m]:.4f}" + (f" [{ci[0]:.4f},{ci[1]:.4f}]" if ci else "")
        if m in summary["aiq_vs_best_single"]:
            d = summary["aiq_vs_best_single"][m]
            text += f"   vs best single {d['diff']:+.4f} [{fmt(d['ci_low'])},{fmt(d['ci_high'])}]"
        lines.append(text)
    for m in ("online", "oracle"):
        saved = summary["compute_saved"].get(m, [])
        shown = saved[:: max(1, len(saved) // 4)][:4]
        if shown:
            lines.append(f"{m:>11}: cost saved at matched quality vs best single  " + "  ".join(
                f"B={s['budget']:g}: {'n/a' if s['saving_pct'] is None else format(s['saving_pct'], '.0f') + '%'}"
                for s in shown))
    lines.append("best single options (frontier): " + _frontier_text(summary["best_single_options"]))
    if summary.get("excluded_from_single"):
        lines.append(f"not single options (samples missing for some queries): {summary['excluded_from_single']}")
    if "apgr" in summary:
        lines.append(f"two decoders: weak {summary['weak']} {summary['weak_mean']:.3f}, strong {summary['strong']} "
                     f"{summary['strong_mean']:.3f}; APGR " + ", ".join(
                         f"{m} {fmt(v)}" for m, v in summary["apgr"].items()))
    intr = result["intrinsic"]
    lines.append(f"\nintrinsic ({intr['loss_name']}, {intr['target_kind']}): loss {intr['loss']:.4f}  "
                 f"Avg {intr['loss_avg']:.4f}  Opt {intr['loss_opt']:.4f}  "
                 f"spearman(mean over decoders) {fmt(intr['spearman_mean_over_decoders'])}")
    return "\n".join(lines)
