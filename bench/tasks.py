"""Task definitions: ``tasks/<name>/task.yaml`` loaded into a validated :class:`TaskConfig`.

A task is data, in the style of lm-evaluation-harness: one YAML file declares the dataset
(hub name, local copies, splits), the paper's filters, the prompt template, decoding defaults,
the settings it supports (best-of-k, routing), ``b_max``, the verifier and the default bank.
Python enters only through ``!function module.attr`` hooks, resolved from the module next to
the YAML that names them (``tasks/<name>/hooks.py``).

* ``include: other.yaml`` (a path relative to the including file, or a list of them) merges
  the included mapping first; the including file's top-level keys win.  Include cycles raise.
* Every key and type is checked on load; a mistake raises :class:`TaskConfigError` naming the
  file and the key.
* ``version`` is bumped for any change that moves scores; scores of different versions are not
  comparable.

Queries are produced by :meth:`TaskConfig.load_queries`: raw rows are read from the local copy
(or the Hugging Face hub, imported lazily), passed to the task's ``process_docs`` hook (which
applies the filters and builds the reference records), and the prompt template is rendered.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import string
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from bench.errors import TaskConfigError, UnknownNameError
from bench.paths import tasks_root

#: settings a task may support (the paper's two adaptive decoding procedures).
SETTINGS = ("best_of_k", "routing")
#: reward kinds: binary (verified correct or not) or a real-valued reward-model score.
REWARD_KINDS = ("binary", "real")
#: how a prompt is built: a chat turn, plain text, or messages the task hook builds itself.
PROMPT_KINDS = ("chat", "text", "messages")

#: signature of a task's ``process_docs`` hook: raw rows -> reference records (filtered).
ProcessDocs = Callable[[list[dict[str, Any]], str, Mapping[str, Any]], list[dict[str, Any]]]
#: a function that fetches raw rows from the hub: (hub_name, split, hub_kwargs) -> rows.
HubLoader = Callable[[str, str, Mapping[str, Any]], Sequence[Mapping[str, Any]]]


# --------------------------------------------------------------------------------------------
# Typed configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionRef:
    """A ``!function module.attr`` placeholder, resolved next to the YAML that declared it."""

    target: str
    source: Path

    def resolve(self) -> Callable[..., Any]:
        """Import ``<yaml folder>/<module>.py`` and return ``attr``; errors name the YAML."""
        module_name, _, attr = self.target.rpartition(".")
        if not module_name or not attr:
            raise TaskConfigError(
                f"{self.source}: !function {self.target!r}: expected 'module.function'"
            )
        module = _import_hook_module(self.source.parent / f"{module_name}.py", self.source)
        func = getattr(module, attr, None)
        if not callable(func):
            raise TaskConfigError(
                f"{self.source}: !function {self.target!r}: {module_name}.py has no function {attr!r}"
            )
        return func


@dataclass(frozen=True)
class SplitSource:
    """Where one split lives: its name on the hub and an optional local file in the project."""

    hub: str | None = None
    local: Path | None = None


@dataclass(frozen=True)
class DatasetConfig:
    """The dataset: hub name (what users load online), extra hub arguments and the splits."""

    hub_name: str | None = None
    hub_kwargs: Mapping[str, Any] = field(default_factory=dict)
    splits: Mapping[str, SplitSource] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptConfig:
    """How the model's prompt is built from a reference record.

    ``template`` uses ``$field`` / ``${field}`` placeholders (``string.Template``), so LaTeX
    braces such as ``\\boxed{}`` need no escaping; ``$$`` is a literal dollar.
    """

    kind: str = "chat"
    template: str | None = None
    system: str | None = None
    #: stop strings of this prompt (None: the task's ``generation.stop``); a chat prompt that asks
    #: for one code block ends it at the closing fence.
    stop: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding defaults used when a bank is generated (the paper samples at temperature 0.7)."""

    temperature: float = 0.7
    samples_per_query: int = 1
    max_tokens: int = 1024
    #: nucleus sampling mass (1.0: off).
    top_p: float = 1.0
    #: strings that end a sample (not included in it), e.g. a closing code fence.
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifierConfig:
    """The verifier's registry name, its keyword options and how many processes it may use."""

    name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: cap on ``bench verify --workers`` (1 for verifiers that hold a large model).
    max_workers: int | None = None


@dataclass(frozen=True)
class TaskConfig:
    """One task, validated.  Only ``name`` and ``directory`` are required (the scoring core
    builds minimal configs in its tests); everything a ``task.yaml`` declares has a field."""

    name: str
    directory: Path
    default_bank: str | None = None
    #: reward of a query given budget 0 ("I don't know"): 0 for math and code.
    default_reward: float = 0.0
    #: smallest budget a query may get (chat requires b >= 1).
    min_budget: int = 0
    raw: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    description: str = ""
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    filters: Mapping[str, Any] = field(default_factory=dict)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    #: named alternatives to ``prompt`` (``prompts:`` in task.yaml), chosen with
    #: ``bench generate --prompt NAME``; ``chat`` is the default for instruct models.
    prompts: Mapping[str, PromptConfig] = field(default_factory=dict)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    settings: tuple[str, ...] = ("best_of_k",)
    b_max: int | None = None
    verifier: VerifierConfig = field(default_factory=VerifierConfig)
    reward: str = "binary"
    #: executing model output is needed to verify (code): ``bench verify`` demands an opt-in.
    unsafe_code: bool = False
    process_docs: FunctionRef | None = None
    #: what to tell a user when the task ships no bank (``no_bank:`` in task.yaml): why, and the
    #: command that makes one.
    no_bank: str | None = None

    @property
    def source_file(self) -> Path:
        return self.directory / "task.yaml"

    def load_queries(
        self, split: str, source: str | Path | None = None, *, hub_loader: HubLoader | None = None
    ) -> list[dict[str, Any]]:
        """Reference records of ``split``; see :func:`load_queries`."""
        return load_queries(self, split, source, hub_loader=hub_loader)

    def with_prompt(self, name: str | None) -> TaskConfig:
        """This task with ``prompts[name]`` as its prompt (and that prompt's stop strings, if it
        declares any); ``None`` or ``"default"`` keeps ``prompt``."""
        if name in (None, "default"):
            chosen = self.prompt
        elif name in self.prompts:
            chosen = self.prompts[name]
        else:
            known = ", ".join(["default", *sorted(self.prompts)])
            raise TaskConfigError(f"task {self.name!r} has no prompt {name!r} (it has: {known}; "
                                  f"see 'prompts:' in {self.source_file})")
        generation = self.generation if chosen.stop is None else replace(self.generation, stop=chosen.stop)
        return replace(self, prompt=chosen, generation=generation)


# --------------------------------------------------------------------------------------------
# YAML reading: !function, include, cycle detection
# --------------------------------------------------------------------------------------------


class _TaskYamlLoader(yaml.SafeLoader):
    """SafeLoader that knows ``!function`` and the file it is reading."""

    source: Path = Path("<string>")


def _construct_function(loader: _TaskYamlLoader, node: yaml.ScalarNode) -> FunctionRef:
    return FunctionRef(target=str(loader.construct_scalar(node)), source=loader.source)


_TaskYamlLoader.add_constructor("!function", _construct_function)


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse one YAML file into a mapping (no includes resolved)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TaskConfigError(f"{path}: cannot read: {err}") from err
    loader = _TaskYamlLoader(text)
    loader.source = path
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as err:
        raise TaskConfigError(f"{path}: invalid YAML: {err}") from err
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TaskConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def read_task_yaml(path: Path, _stack: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read ``path`` with its ``include:`` chain merged (included first, local keys win).

    Raises
    ------
    TaskConfigError
        On unreadable or invalid YAML, a missing included file, or an include cycle.
    """
    path = path.resolve()
    if path in _stack:
        chain = " -> ".join(str(p) for p in (*_stack, path))
        raise TaskConfigError(f"{path}: include cycle: {chain}")
    data = _read_yaml_mapping(path)
    includes = data.pop("include", None)
    if includes is None:
        return data
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise TaskConfigError(f"{path}: key 'include': expected a file name or a list of them")
    merged: dict[str, Any] = {}
    for inc in includes:
        inc_path = path.parent / inc
        if not inc_path.is_file():
            raise TaskConfigError(f"{path}: key 'include': no such file {inc_path}")
        merged.update(read_task_yaml(inc_path, (*_stack, path)))
    merged.update(data)
    return merged


def _import_hook_module(file: Path, yaml_path: Path) -> ModuleType:
    """Import a hook module by path (cached per file); import errors name the YAML."""
    key = f"hardbench_task_hooks_{abs(hash(str(file.resolve())))}"
    if key in sys.modules:
        return sys.modules[key]
    if not file.is_file():
        raise TaskConfigError(f"{yaml_path}: !function refers to {file.name}, which does not exist")
    spec = importlib.util.spec_from_file_location(key, file)
    if spec is None or spec.loader is None:
        raise TaskConfigError(f"{yaml_path}: cannot import hook module {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - any failure in a hook module is reported with its YAML
        del sys.modules[key]
        raise TaskConfigError(
            f"{yaml_path}: importing hook module {file.name} failed: {type(err).__name__}: {err}"
        ) from err
    return module


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


class _Fields:
    """Typed access to one YAML mapping; every error names the file and the dotted key."""

    def __init__(self, data: Any, path: Path, where: str) -> None:
        if not isinstance(data, dict):
            raise TaskConfigError(f"{path}: key {where!r}: expected a mapping, got {data!r}")
        self.data, self.path, self.where = data, path, where

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, expected: str) -> TaskConfigError:
        value = self.data.get(key)
        return TaskConfigError(
            f"{self.path}: key {self._key(key)!r}: expected {expected}, got {value!r}"
        )

    def check_known(self, allowed: Sequence[str]) -> None:
        unknown = sorted(set(self.data) - set(allowed))
        if unknown:
            raise TaskConfigError(
                f"{self.path}: unknown key {self._key(unknown[0])!r}; "
                f"allowed here: {', '.join(sorted(allowed))}"
            )

    def get(self, key: str, types: type | tuple[type, ...], default: Any = None,
            expected: str | None = None) -> Any:
        if key not in self.data or self.data[key] is None:
            return default
        value = self.data[key]
        # bool is an int subclass; never accept it where a number is wanted.
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            raise self.fail(key, expected or _type_names(types))
        if not isinstance(value, types):
            raise self.fail(key, expected or _type_names(types))
        return value

    def sub(self, key: str) -> _Fields:
        return _Fields(self.data.get(key) or {}, self.path, self._key(key))


def _type_names(types: type | tuple[type, ...]) -> str:
    seq = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in seq)


_TOP_KEYS = (
    "task", "version", "description", "dataset", "filters", "prompt", "generation", "settings",
    "b_max", "verifier", "reward", "default_reward", "min_budget", "default_bank", "unsafe_code",
    "process_docs", "prompts", "no_bank",
)


def _parse_dataset(f: _Fields, directory: Path) -> DatasetConfig:
    f.check_known(("hub_name", "hub_kwargs", "splits"))
    splits: dict[str, SplitSource] = {}
    split_fields = f.sub("splits")
    for split_name in split_fields.data:
        s = split_fields.sub(str(split_name))
        s.check_known(("hub", "local"))
        local = s.get("local", str)
        splits[str(split_name)] = SplitSource(
            hub=s.get("hub", str), local=(directory / local) if local else None
        )
    return DatasetConfig(
        hub_name=f.get("hub_name", str), hub_kwargs=dict(f.get("hub_kwargs", dict, {})),
        splits=splits,
    )


def _parse_prompt(f: _Fields) -> PromptConfig:
    f.check_known(("kind", "template", "system", "stop"))
    kind = f.get("kind", str, "chat")
    if kind not in PROMPT_KINDS:
        raise f.fail("kind", f"one of {', '.join(PROMPT_KINDS)}")
    template = f.get("template", str)
    if kind != "messages" and template is None:
        raise f.fail("template", f"a template string (prompt kind {kind!r} renders one)")
    stop = f.get("stop", list)
    if stop is not None and not all(isinstance(s, str) and s for s in stop):
        raise f.fail("stop", "a list of non-empty strings")
    return PromptConfig(kind=kind, template=template, system=f.get("system", str),
                        stop=None if stop is None else tuple(stop))


def _parse_prompt_variants(f: _Fields) -> dict[str, PromptConfig]:
    """``prompts: {NAME: {kind, template, system, stop}}``: alternatives to ``prompt``."""
    return {str(name): _parse_prompt(f.sub(str(name))) for name in f.data}


def _parse_generation(f: _Fields) -> GenerationConfig:
    f.check_known(("temperature", "samples_per_query", "max_tokens", "top_p", "stop"))
    temperature = float(f.get("temperature", (int, float), 0.7))
    samples = f.get("samples_per_query", int, 1)
    max_tokens = f.get("max_tokens", int, 1024)
    top_p = float(f.get("top_p", (int, float), 1.0))
    stop = f.get("stop", list, [])
    if not 0 < top_p <= 1:
        raise f.fail("top_p", "a number in (0, 1]")
    if not all(isinstance(s, str) and s for s in stop):
        raise f.fail("stop", "a list of non-empty strings")
    if temperature < 0:
        raise f.fail("temperature", "a number >= 0")
    if samples < 1:
        raise f.fail("samples_per_query", "an integer >= 1")
    if max_tokens < 1:
        raise f.fail("max_tokens", "an integer >= 1")
    return GenerationConfig(temperature=temperature, samples_per_query=samples, max_tokens=max_tokens,
                            top_p=top_p, stop=tuple(stop))


def _parse_verifier(f: _Fields) -> VerifierConfig:
    f.check_known(("name", "options", "max_workers"))
    max_workers = f.get("max_workers", int)
    if max_workers is not None and max_workers < 1:
        raise f.fail("max_workers", "an integer >= 1")
    return VerifierConfig(name=f.get("name", str), options=dict(f.get("options", dict, {})),
                          max_workers=max_workers)


def parse_task(raw: dict[str, Any], path: Path, name: str) -> TaskConfig:
    """Validate a merged task mapping read from ``path`` and build the :class:`TaskConfig`."""
    f = _Fields(raw, path, "")
    f.check_known(_TOP_KEYS)
    declared = f.get("task", str, name)
    if declared != name:
        raise f.fail("task", f"the folder name {name!r}")
    version = f.get("version", int)
    if version is None or version < 0:
        raise f.fail("version", "a non-negative integer (bump it for any change that moves scores)")
    settings = f.get("settings", list, ["best_of_k"])
    if not settings or any(s not in SETTINGS for s in settings) or len(set(settings)) != len(settings):
        raise f.fail("settings", f"a non-empty list drawn from {', '.join(SETTINGS)}")
    b_max = f.get("b_max", int)
    if b_max is not None and b_max < 1:
        raise f.fail("b_max", "an integer >= 1")
    reward = f.get("reward", str, "binary")
    if reward not in REWARD_KINDS:
        raise f.fail("reward", f"one of {', '.join(REWARD_KINDS)}")
    min_budget = f.get("min_budget", int, 0)
    if min_budget < 0 or (b_max is not None and min_budget > b_max):
        raise f.fail("min_budget", "an integer between 0 and b_max")
    process_docs = f.get("process_docs", FunctionRef, expected="!function module.function")
    return TaskConfig(
        name=name,
        directory=path.parent,
        default_bank=f.get("default_bank", str),
        default_reward=float(f.get("default_reward", (int, float), 0.0)),
        min_budget=min_budget,
        raw=raw,
        version=version,
        description=str(f.get("description", str, "")).strip(),
        dataset=_parse_dataset(f.sub("dataset"), path.parent),
        filters=dict(f.get("filters", dict, {})),
        prompt=_parse_prompt(f.sub("prompt")),
        prompts=_parse_prompt_variants(f.sub("prompts")),
        generation=_parse_generation(f.sub("generation")),
        settings=tuple(settings),
        b_max=b_max,
        verifier=_parse_verifier(f.sub("verifier")),
        reward=reward,
        unsafe_code=f.get("unsafe_code", bool, False),
        process_docs=process_docs,
        no_bank=f.get("no_bank", str),
    )


# --------------------------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------------------------


def available_tasks() -> list[str]:
    """Names of every task folder holding a ``task.yaml``."""
    return sorted(p.parent.name for p in tasks_root().glob("*/task.yaml"))


def load_task(name: str) -> TaskConfig:
    """Load and validate ``tasks/<name>/task.yaml``.

    Raises
    ------
    UnknownNameError
        No such task; the message lists the tasks and the closest match.
    TaskConfigError
        The YAML is malformed (the message names the file and the key).
    """
    path = tasks_root() / name / "task.yaml"
    if not path.is_file():
        from bench.verify.registry import did_you_mean  # small, dependency-free helper

        raise UnknownNameError(
            f"unknown task {name!r}{did_you_mean(name, available_tasks())}; "
            f"available: {', '.join(available_tasks())}"
        )
    return parse_task(read_task_yaml(path), path, name)


def task_hooks(name: str) -> ModuleType:
    """Import ``tasks/<name>/hooks.py``, so one task's hooks can reuse another's (Numina uses
    MATH's boxed-answer extraction) without copying code."""
    path = tasks_root() / name / "task.yaml"
    return _import_hook_module(path.parent / "hooks.py", path)


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read raw rows from ``.jsonl``, ``.jsonl.gz`` or ``.json`` (a list of objects)."""
    if not path.is_file():
        raise TaskConfigError(f"{path}: data file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    stem = path.name[:-3] if path.suffix == ".gz" else path.name
    with opener(path, "rt", encoding="utf-8") as fh:
        if stem.endswith(".json"):
            data = json.load(fh)
            if not isinstance(data, list):
                raise TaskConfigError(f"{path}: expected a JSON list of rows")
            return data
        rows = []
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise TaskConfigError(f"{path}: line {lineno}: invalid JSON: {err}") from err
        return rows


def load_from_hub(hub_name: str, split: str, hub_kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Fetch a split with ``datasets.load_dataset`` (imported here: it is an optional dependency)."""
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError as err:
        raise TaskConfigError(
            f"loading {hub_name!r} from the hub needs the 'datasets' package (pip install datasets)"
        ) from err
    return [dict(row) for row in datasets.load_dataset(hub_name, split=split, **dict(hub_kwargs))]


def _raw_rows(task: TaskConfig, split: str, source: str | Path | None,
              hub_loader: HubLoader | None) -> list[dict[str, Any]]:
    """Pick the rows: an explicit file, ``"local"``, ``"hub"``, or (None) local if declared."""
    if source is not None and source not in ("local", "hub"):
        return read_rows(Path(source))
    where = task.dataset.splits.get(split)
    if where is None:
        raise TaskConfigError(
            f"{task.source_file}: task {task.name!r} has no split {split!r}; "
            f"declared: {', '.join(task.dataset.splits) or 'none'}"
        )
    if source == "local" or (source is None and where.local is not None):
        if where.local is None:
            raise TaskConfigError(f"{task.source_file}: split {split!r} has no local copy; use the hub")
        return read_rows(where.local)
    if task.dataset.hub_name is None or where.hub is None:
        raise TaskConfigError(f"{task.source_file}: split {split!r} has no hub source")
    loader = hub_loader or load_from_hub
    return [dict(r) for r in loader(task.dataset.hub_name, where.hub, task.dataset.hub_kwargs)]


def render_prompt(prompt: PromptConfig, record: Mapping[str, Any], where: str) -> Any:
    """Render the prompt for one record: a string (``text``) or chat messages (``chat``)."""
    if prompt.kind == "messages":
        if "prompt" not in record:
            raise TaskConfigError(f"{where}: prompt kind 'messages' but the hook set no 'prompt'")
        return record["prompt"]
    try:
        text = string.Template(prompt.template or "").substitute(record)
    except KeyError as err:
        raise TaskConfigError(
            f"{where}: prompt template uses ${err.args[0]}, which the records do not have"
        ) from err
    except ValueError as err:
        raise TaskConfigError(f"{where}: invalid prompt template: {err}") from err
    if prompt.kind == "text":
        return text
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return [*messages, {"role": "user", "content": text}]


def load_queries(
    task: TaskConfig, split: str, source: str | Path | None = None, *,
    hub_loader: HubLoader | None = None,
) -> list[dict[str, Any]]:
    """Reference records of one split, filtered as the task declares, with rendered prompts.

    Parameters
    ----------
    task : TaskConfig
    split : str
        A split declared under ``dataset.splits``; with an explicit file it only names the split.
    source : {None, "local", "hub"} or path
        ``None`` reads the local copy when the task ships one, else the hub; a path reads that
        file (same raw format as the hub rows: ``.jsonl``, ``.jsonl.gz`` or ``.json``).
    hub_loader : callable, optional
        Replaces :func:`load_from_hub` (tests inject a fake hub).

    Returns
    -------
    list of dict
        Each with a unique string ``query_id``, the rendered ``prompt`` and the reference
        fields the task's verifier reads.
    """
    rows = _raw_rows(task, split, source, hub_loader)
    if task.process_docs is None:
        raise TaskConfigError(f"{task.source_file}: key 'process_docs': a task needs a hook")
    records = task.process_docs.resolve()(rows, split, task.filters)
    where = str(task.source_file)
    seen: set[str] = set()
    for record in records:
        qid = record.get("query_id")
        if not isinstance(qid, str) or not qid:
            raise TaskConfigError(f"{where}: process_docs returned a record without a string query_id")
        if qid in seen:
            raise TaskConfigError(f"{where}: process_docs returned query_id {qid!r} twice")
        seen.add(qid)
        record["prompt"] = render_prompt(task.prompt, record, where)
    return records
