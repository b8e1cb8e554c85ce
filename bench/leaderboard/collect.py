"""Read ``hardbench-result/1`` and ``/2`` files and group them into comparable leaderboard groups.

The loader validates exactly the fields the leaderboard uses and turns the JSON into frozen
dataclasses, so the table, plot and site code trusts what it receives.  Grouping follows the
STYLE guide's rule: rows are ranked together only when everything that changes the numbers
agrees (task, bank and its sha256, setting, split, bootstrap, seed, harness version, budget
grid, decoders and the bank the predictor was trained on).  Results that differ land in separate
groups, each with its own header; nothing is silently mixed, and the reference curves (oracle,
uniform/random) of one group must agree.

Format v2 (contracts 2 and 3 of the project brief) adds ``summary.ci`` (every summary number's
95 % interval, same nesting as the point values), ``summary.paired_vs_baseline``, per-query
``predictions``, ``decoders`` and ``train_bank``.  A v1 file lacks them: it is read with no
intervals, the bank's default decoders and no train bank.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import ResultFormatError

#: the result format versions this reader understands (v1 has no intervals on summary numbers)
RESULT_FORMAT = "hardbench-result/1"
RESULT_FORMAT_V2 = "hardbench-result/2"
RESULT_FORMATS: tuple[str, ...] = (RESULT_FORMAT, RESULT_FORMAT_V2)
#: settings and the methods each must report a curve for
SETTING_METHODS: dict[str, tuple[str, ...]] = {
    "best_of_k": ("online", "offline", "uniform", "oracle"),
    "routing": ("online", "offline", "random", "oracle"),
}
#: adaptive methods: the ones with a summary entry
ADAPTIVE_METHODS: tuple[str, ...] = ("online", "offline", "oracle")
#: the non-adaptive baseline of each setting
BASELINE_METHOD: dict[str, str] = {"best_of_k": "uniform", "routing": "random"}
#: tolerance when checking that reference curves of one group agree
REFERENCE_ATOL = 1e-9


@dataclass(frozen=True)
class CurvePoint:
    """One point of a reward-vs-budget curve (``curves[method][i]`` in the result file)."""

    budget: float
    realized_budget: float
    mean: float
    ci_low: float | None  # None: no interval (``--bootstrap 0`` in format v2)
    ci_high: float | None


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of the reliability diagram (``intrinsic.reliability[i]``)."""

    bin_low: float
    bin_high: float
    count: int
    mean_pred: float | None
    mean_target: float | None


@dataclass(frozen=True)
class Intrinsic:
    """The predictor's intrinsic quality on the test split (the paper's Table 1)."""

    target_kind: str
    loss_name: str
    loss: float
    loss_avg: float
    loss_opt: float
    median_accuracy: float | None
    spearman: float | None
    ece: float | None
    reliability: tuple[ReliabilityBin, ...]


@dataclass(frozen=True)
class SavedPoint:
    """``summary.compute_saved[m][i]``: budget B, matched budget B' and 100*(1-B'/B)."""

    budget: float
    matched_budget: float | None
    saving_pct: float | None


@dataclass(frozen=True)
class Summary:
    """Curve summaries of the adaptive methods; fields not used by a setting stay empty."""

    quality_gain: Mapping[str, Mapping[float, float]]
    area_between_curves: Mapping[str, float]
    compute_saved: Mapping[str, Mapping[float, SavedPoint]] = field(default_factory=dict)
    apgr: Mapping[str, float | None] = field(default_factory=dict)
    strong_share_for_pgr: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    weak_mean: float | None = None
    strong_mean: float | None = None


@dataclass(frozen=True)
class AllocationByBin:
    """Share of the online allocation's budget per predicted-difficulty bin (Figure 6)."""

    bins: tuple[str, ...]
    budgets: tuple[float, ...]
    share: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class Result:
    """One validated result file: a submission scored on one (task, bank)."""

    path: Path
    source: str  # path relative to the results folder, for messages and the site
    signature: str
    task: str
    bank: str
    bank_sha256: str
    submission: str
    setting: str
    reward: str
    target_kind: str
    split: str
    n_queries: int
    seed: int
    bootstrap: int
    harness_version: str
    offline_options: str  # canonical JSON of the optional ``offline`` settings ("" if absent)
    budgets: tuple[float, ...]
    curves: Mapping[str, tuple[CurvePoint, ...]]
    summary: Summary
    intrinsic: Intrinsic
    allocation_by_bin: AllocationByBin | None
    #: format version (1 or 2); v1 files carry no summary intervals
    format_version: int = 1
    #: decoder names in role order (v2 ``decoders``; v1: the bank's defaults when the bank is
    #: found locally, else empty = "the bank's defaults")
    decoders: tuple[str, ...] = ()
    #: the bank the predictor was fitted on when it differs from the scored bank (v2), else None
    train_bank: str | None = None
    #: ``summary.ci`` as stored (same nesting as the summary; leaves ``[low, high]`` or null)
    summary_ci: Any = None
    #: ``intrinsic.ci`` when a result stores one (same rule), else None
    intrinsic_ci: Any = None
    #: ``summary.paired_vs_baseline``: method -> metric -> {diff, ci_low, ci_high, p_le_0}
    paired_vs_baseline: Mapping[str, Any] | None = None
    #: the whole JSON object, for paired comparisons that need per-query predictions
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_intervals(self) -> bool:
        """True when the file stores summary intervals (format v2 with bootstrap > 0)."""
        return self.summary_ci is not None


@dataclass(frozen=True)
class GroupKey:
    """Everything that must agree for two results to be ranked in one table."""

    task: str
    bank: str
    bank_sha256: str
    setting: str
    reward: str
    split: str
    n_queries: int
    bootstrap: int
    seed: int
    harness_version: str
    budgets: tuple[float, ...]
    offline_options: str
    signature: str  # the result signature without its ``sub:`` part
    decoders: tuple[str, ...] = ()  # empty: the bank's defaults (v1 file, bank not found)
    train_bank: str = ""  # empty: trained on the scored bank itself

    def sort_key(self) -> tuple[Any, ...]:
        return (self.task, self.bank, self.bank_sha256, self.setting, self.train_bank,
                self.decoders, self.split, self.seed, self.bootstrap, self.harness_version,
                self.budgets, self.offline_options, self.signature, self.reward, self.n_queries)

    @property
    def is_transfer(self) -> bool:
        """The predictor was fitted on another bank (``--train-bank``): a generalization run."""
        return bool(self.train_bank)

    def slug(self) -> str:
        """A file-name-safe, unique, deterministic name for this group's plots."""
        digest = hashlib.sha256(repr(self.sort_key()).encode("utf-8")).hexdigest()[:8]
        return f"{slugify(self.task)}--{slugify(self.bank)}--{digest}"


@dataclass(frozen=True)
class Group:
    """Results that may be ranked together, sorted by submission name."""

    key: GroupKey
    results: tuple[Result, ...]

    @property
    def baseline(self) -> str:
        """``uniform`` (best-of-k) or ``random`` (routing)."""
        return BASELINE_METHOD[self.key.setting]

    def reference_curve(self, method: str) -> tuple[CurvePoint, ...]:
        """The oracle or baseline curve; identical across the group (checked at grouping)."""
        return self.results[0].curves[method]


def slugify(text: str) -> str:
    """Keep ``[A-Za-z0-9._-]``, replace the rest by ``_`` (file names from user input).

    When anything was replaced, a short hash of ``text`` is appended so that two names that
    differ only in replaced characters (``a/b``, ``a_b``) still get different file names.

    >>> slugify("mlp_probe")
    'mlp_probe'
    >>> slugify("a/b")
    'a_b-c14cddc0'
    """
    out = "".join(c if (c.isascii() and (c.isalnum() or c in "._-")) else "_" for c in text)
    out = out.strip(".")[:80]
    if out != text:
        out = f"{out}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"
    return out


# --------------------------------------------------------------------------- field checks


class _Fields:
    """Typed accessors over one JSON object that raise ResultFormatError naming file and field."""

    def __init__(self, obj: Any, source: str, where: str) -> None:
        if not isinstance(obj, dict):
            raise ResultFormatError(
                f"{source}: field {where or '<root>'!r} must be an object, got {type(obj).__name__}")
        self.obj = obj
        self.source = source
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _fail(self, key: str, expected: str, value: Any) -> ResultFormatError:
        return ResultFormatError(
            f"{self.source}: field {self._name(key)!r} must be {expected}, got {value!r}")

    def raw(self, key: str) -> Any:
        if key not in self.obj:
            raise ResultFormatError(f"{self.source}: missing field {self._name(key)!r}")
        return self.obj[key]

    def sub(self, key: str) -> _Fields:
        return _Fields(self.raw(key), self.source, self._name(key))

    def string(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string", value)
        return value

    def integer(self, key: str, minimum: int = 0) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, f"an integer >= {minimum}", value)
        return value

    def number(self, key: str) -> float:
        return _number(self.raw(key), lambda v: self._fail(key, "a finite number", v))

    def optional_number(self, key: str) -> float | None:
        value = self.raw(key)
        if value is None:
            return None
        return _number(value, lambda v: self._fail(key, "a finite number or null", v))

    def array(self, key: str) -> list[Any]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise self._fail(key, "a list", value)
        return value


def _number(value: Any, error: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise error(value)
    return float(value)


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


# --------------------------------------------------------------------------- loading


def load_result(path: Path, results_dir: Path | None = None) -> Result:
    """Read and validate one result file.

    Parameters
    ----------
    path:
        A JSON file written by ``bench run``.
    results_dir:
        The folder the leaderboard reads; ``Result.source`` is ``path`` relative to it.

    Raises
    ------
    ResultFormatError
        The file is not JSON, has another ``format`` than ``hardbench-result/1``, or a field
        the leaderboard uses is missing or malformed; the message names the file and field.
    """
    path = Path(path)
    source = _relative(path, results_dir)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ResultFormatError(f"{source}: not a readable JSON result file ({err})") from err
    if not isinstance(obj, dict):
        raise ResultFormatError(f"{source}: a result file must hold a JSON object")
    fmt = obj.get("format")
    if fmt not in RESULT_FORMATS:
        raise ResultFormatError(
            f"{source}: field 'format' is {fmt!r}; this leaderboard reads "
            f"{' and '.join(repr(f) for f in RESULT_FORMATS)}")
    f = _Fields(obj, source, "")
    setting = f.string("setting")
    if setting not in SETTING_METHODS:
        raise ResultFormatError(
            f"{source}: field 'setting' is {setting!r}; expected one of {sorted(SETTING_METHODS)}")
    budgets = tuple(_number(b, lambda v: f._fail("budgets", "a list of finite numbers", v))
                    for b in f.array("budgets"))
    if not budgets or list(budgets) != sorted(set(budgets)):
        raise ResultFormatError(
            f"{source}: field 'budgets' must be a non-empty strictly increasing list, got {list(budgets)}")
    curves = _load_curves(f.sub("curves"), setting, budgets)
    summary = _load_summary(f.sub("summary"), setting, budgets)
    alloc_raw = obj.get("allocation_by_bin")
    allocation = None
    if setting == "best_of_k" and alloc_raw is not None:
        allocation = _load_allocation(f.sub("allocation_by_bin"))
    versions = f.sub("versions")
    return Result(
        path=path, source=source, signature=f.string("signature"), task=f.string("task"),
        bank=f.string("bank"), bank_sha256=f.string("bank_sha256"),
        submission=f.string("submission"), setting=setting, reward=f.string("reward"),
        target_kind=f.string("target_kind"), split=f.string("split"),
        n_queries=f.integer("n_queries", minimum=1), seed=f.integer("seed"),
        bootstrap=f.integer("bootstrap"), harness_version=versions.string("hardbench"),
        offline_options=_offline_options(obj.get("offline"), source), budgets=budgets, curves=curves, summary=summary,
        intrinsic=_load_intrinsic(f.sub("intrinsic")), allocation_by_bin=allocation,
        format_version=RESULT_FORMATS.index(fmt) + 1,
        decoders=_decoders(obj, f, setting), train_bank=_train_bank(obj, source),
        summary_ci=_optional_object(obj["summary"], "ci", source, "summary"),
        intrinsic_ci=_optional_object(obj["intrinsic"], "ci", source, "intrinsic"),
        paired_vs_baseline=_optional_object(obj["summary"], "paired_vs_baseline", source, "summary"),
        raw=obj,
    )


def _optional_object(parent: Any, key: str, source: str, where: str) -> Any:
    """``parent[key]`` when it is an object, None when absent or null; refuse anything else."""
    value = parent.get(key) if isinstance(parent, dict) else None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ResultFormatError(f"{source}: field '{where}.{key}' must be an object or null, got {value!r}")
    return value


def _train_bank(obj: Mapping[str, Any], source: str) -> str | None:
    value = obj.get("train_bank")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ResultFormatError(f"{source}: field 'train_bank' must be a bank name or null, got {value!r}")
    return value


def _decoders(obj: Mapping[str, Any], f: _Fields, setting: str) -> tuple[str, ...]:
    """v2: the stored ``decoders``; v1: the bank's defaults read from its manifest, if found."""
    value = obj.get("decoders")
    if value is None:
        return bank_default_decoders(str(obj.get("task", "")), str(obj.get("bank", "")), setting)
    if not isinstance(value, list) or not value or not all(isinstance(d, str) and d for d in value):
        raise f._fail("decoders", "a non-empty list of decoder names", value)
    return tuple(value)


def bank_default_decoders(task: str, bank: str, setting: str) -> tuple[str, ...]:
    """The decoders a run with the bank's defaults uses (contract 1 of the project brief):
    ``default_decoder`` (best-of-k; else the first decoder) or ``default_routing`` (routing; else
    the first two).  Empty when the bank is not found here (e.g. a result from elsewhere)."""
    from bench.bank import read_manifest, resolve_bank_dir
    from bench.errors import HardbenchError

    try:
        manifest = read_manifest(resolve_bank_dir(bank, task))
    except (HardbenchError, OSError, ValueError):
        return ()
    names = [str(d) for d in manifest["decoders"]]
    if setting == "routing":
        pair = manifest.get("default_routing") or names[:2]
        return tuple(str(d) for d in pair)
    return (str(manifest.get("default_decoder") or names[0]),)


def _offline_options(value: Any, source: str) -> str:
    """The optional ``offline`` settings (e.g. ``{"bins": 10, "fitted_on": "dev"}``) as canonical
    JSON: they change the offline curve, so results that differ here are not ranked together."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise ResultFormatError(f"{source}: field 'offline' must be an object, got {value!r}")
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _relative(path: Path, results_dir: Path | None) -> str:
    if results_dir is not None:
        try:
            return path.resolve().relative_to(Path(results_dir).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def _load_curves(f: _Fields, setting: str, budgets: tuple[float, ...]
                 ) -> dict[str, tuple[CurvePoint, ...]]:
    curves: dict[str, tuple[CurvePoint, ...]] = {}
    for method in SETTING_METHODS[setting]:
        points = f.array(method)
        if len(points) != len(budgets):
            raise ResultFormatError(
                f"{f.source}: curve 'curves.{method}' has {len(points)} points for "
                f"{len(budgets)} budgets")
        parsed = []
        for i, raw in enumerate(points):
            p = _Fields(raw, f.source, f"curves.{method}[{i}]")
            point = CurvePoint(p.number("budget"), p.number("realized_budget"), p.number("mean"),
                               p.optional_number("ci_low"), p.optional_number("ci_high"))
            if point.budget != budgets[i]:
                raise ResultFormatError(
                    f"{f.source}: field 'curves.{method}[{i}].budget' is {point.budget}, "
                    f"expected budgets[{i}] = {budgets[i]}")
            parsed.append(point)
        curves[method] = tuple(parsed)
    return curves


def _per_budget(f: _Fields, method: str, value_key: str) -> dict[float, float]:
    out: dict[float, float] = {}
    for i, raw in enumerate(f.array(method)):
        p = _Fields(raw, f.source, f"{f.where}.{method}[{i}]")
        out[p.number("budget")] = p.number(value_key)
    return out


def _load_summary(f: _Fields, setting: str, budgets: tuple[float, ...]) -> Summary:
    gains = f.sub("quality_gain")
    areas = f.sub("area_between_curves")
    quality_gain = {m: _per_budget(gains, m, "gain") for m in ADAPTIVE_METHODS}
    area = {m: areas.number(m) for m in ADAPTIVE_METHODS}
    if setting == "best_of_k":
        saved_f = f.sub("compute_saved")
        saved: dict[str, dict[float, SavedPoint]] = {}
        for m in ADAPTIVE_METHODS:
            saved[m] = {}
            for i, raw in enumerate(saved_f.array(m)):
                p = _Fields(raw, f.source, f"summary.compute_saved.{m}[{i}]")
                point = SavedPoint(p.number("budget"), p.optional_number("matched_budget"),
                                   p.optional_number("saving_pct"))
                saved[m][point.budget] = point
        return Summary(quality_gain=quality_gain, area_between_curves=area, compute_saved=saved)
    apgr_f = f.sub("apgr")
    share_f = f.sub("strong_share_for_pgr")
    # the adaptive methods are required; the baseline ("random") is read when present
    methods = ADAPTIVE_METHODS + tuple(m for m in ("random",) if m in apgr_f.obj and m in share_f.obj)
    shares = {}
    for m in methods:
        s = share_f.sub(m)
        shares[m] = {"50": s.optional_number("50"), "80": s.optional_number("80")}
    return Summary(quality_gain=quality_gain, area_between_curves=area,
                   apgr={m: apgr_f.optional_number(m) for m in methods},
                   strong_share_for_pgr=shares, weak_mean=f.number("weak_mean"),
                   strong_mean=f.number("strong_mean"))


def _load_intrinsic(f: _Fields) -> Intrinsic:
    bins = []
    for i, raw in enumerate(f.array("reliability")):
        b = _Fields(raw, f.source, f"intrinsic.reliability[{i}]")
        bins.append(ReliabilityBin(b.number("bin_low"), b.number("bin_high"), b.integer("count"),
                                   b.optional_number("mean_pred"), b.optional_number("mean_target")))
    return Intrinsic(
        target_kind=f.string("target_kind"), loss_name=f.string("loss_name"),
        loss=f.number("loss"), loss_avg=f.number("loss_avg"), loss_opt=f.number("loss_opt"),
        median_accuracy=f.optional_number("median_accuracy"),
        spearman=f.optional_number("spearman"), ece=f.optional_number("ece"),
        reliability=tuple(bins))


def _load_allocation(f: _Fields) -> AllocationByBin:
    bins = tuple(str(b) for b in f.array("bins"))
    budgets = tuple(_number(b, lambda v: f._fail("budgets", "a list of numbers", v))
                    for b in f.array("budgets"))
    share = []
    for i, row in enumerate(f.array("share")):
        if not isinstance(row, list) or len(row) != len(bins):
            raise ResultFormatError(
                f"{f.source}: field 'allocation_by_bin.share[{i}]' must list {len(bins)} shares, "
                f"got {row!r}")
        share.append(tuple(_number(v, lambda v: f._fail(f"share[{i}]", "finite numbers", v))
                           for v in row))
    if len(share) != len(budgets):
        raise ResultFormatError(
            f"{f.source}: field 'allocation_by_bin.share' has {len(share)} rows for "
            f"{len(budgets)} budgets")
    return AllocationByBin(bins=bins, budgets=budgets, share=tuple(share))


def find_result_files(results_dir: Path) -> list[Path]:
    """Every ``*.json`` under ``results_dir`` (recursively), sorted for a deterministic order."""
    return sorted(p for p in Path(results_dir).rglob("*.json") if p.is_file() and "@portfolio-" not in p.name)


def collect_results(results_dir: Path) -> list[Result]:
    """Load every result file under ``results_dir``; refuse an empty folder.

    Raises
    ------
    ResultFormatError
        No result file was found, or one of them is malformed.
    """
    results_dir = Path(results_dir)
    files = find_result_files(results_dir)
    if not files:
        raise ResultFormatError(f"{results_dir}: no result files (*.json) found; run `bench run` first")
    return [load_result(p, results_dir) for p in files]


# --------------------------------------------------------------------------- grouping


def signature_without_submission(signature: str, submission: str | None = None) -> str:
    """Drop the ``sub:<submission>`` part of a result signature: what the rows of a table share.

    With ``submission`` given, exactly ``sub:<submission>`` is removed (a name may contain ``|``).

    >>> signature_without_submission("task:t|sub:a|b|seed:0", "a|b")
    'task:t|seed:0'
    """
    if submission is not None:
        tag = f"sub:{submission}"
        if f"|{tag}|" in signature:
            return signature.replace(f"|{tag}|", "|", 1)
        if signature.endswith(f"|{tag}"):
            return signature[: -len(tag) - 1]
        if signature.startswith(f"{tag}|"):
            return signature[len(tag) + 1:]
    return "|".join(part for part in signature.split("|") if not part.startswith("sub:"))


def group_key(result: Result) -> GroupKey:
    """The comparability key of one result."""
    return GroupKey(
        task=result.task, bank=result.bank, bank_sha256=result.bank_sha256,
        setting=result.setting, reward=result.reward, split=result.split,
        n_queries=result.n_queries, bootstrap=result.bootstrap, seed=result.seed,
        harness_version=result.harness_version, budgets=result.budgets,
        offline_options=result.offline_options,
        signature=signature_without_submission(result.signature, result.submission),
        decoders=result.decoders, train_bank=result.train_bank or "")


def group_results(results: Iterable[Result]) -> list[Group]:
    """Group results by :class:`GroupKey`, sorted by key and then by submission name.

    Raises
    ------
    ResultFormatError
        Two files of one group are for the same submission, or the reference curves
        (oracle, uniform/random) of one group disagree: the bank or the scorer changed
        without the signature saying so, and the rows must not be ranked together.
    """
    buckets: dict[GroupKey, list[Result]] = {}
    for result in results:
        buckets.setdefault(group_key(result), []).append(result)
    groups = []
    for key in sorted(buckets, key=GroupKey.sort_key):
        members = sorted(buckets[key], key=lambda r: (r.submission, r.source))
        _check_unique_submissions(members)
        _check_references_agree(members)
        groups.append(Group(key=key, results=tuple(members)))
    return groups


def _check_unique_submissions(members: Sequence[Result]) -> None:
    for a, b in zip(members, members[1:]):
        if a.submission == b.submission:
            raise ResultFormatError(
                f"{a.source} and {b.source}: two results for submission {a.submission!r} on "
                f"task {a.task!r}, bank {a.bank!r} with the same signature; remove one")


def _check_references_agree(members: Sequence[Result]) -> None:
    first = members[0]
    for method in ("oracle", BASELINE_METHOD[first.setting]):
        for other in members[1:]:
            for p, q in zip(first.curves[method], other.curves[method]):
                if any(abs(x - y) > REFERENCE_ATOL for x, y in
                       ((p.mean, q.mean), (p.realized_budget, q.realized_budget))):
                    raise ResultFormatError(
                        f"{first.source} and {other.source}: the {method!r} curves differ at "
                        f"budget {p.budget} ({p.mean} vs {q.mean}) although bank and signature "
                        f"agree; refusing to rank them together")
