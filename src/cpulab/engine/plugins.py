"""The user's own tasks: task files named with --task-file, and installed plug-ins.

A task file is a Python file defining `cpulab_task(setting)`; an installed plug-in is an
entry point in the group `cpulab.tasks` whose name is the task's name and whose value is
"module:function". Both are described without running them: the parent reads the source
with `ast` (the module docstring, and the literals NAME, KNOBS and METRIC), so listing tasks
imports no plug-in and no scikit-learn. Only the runner child imports a plug-in, through
`import_builder`.

Finding an installed plug-in's source uses `importlib.util.find_spec`, which imports the
packages above a dotted module name (for "pkg.tasks", `pkg` itself), never the module.
"""

from __future__ import annotations

import ast
import errno
import importlib
import importlib.machinery
import importlib.util
import os
import re
import stat
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.abc import InspectLoader
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

from cpulab.api import Experiment, Setting, Workload
from cpulab.engine.cores import CORES_PER_CORE, available_cores
from cpulab.engine.datafile import KINDS, file_kind
from cpulab.engine.errors import UsageError
from cpulab.engine.tasks import CATALOGUE, KNOBS, Task, get_task

ENTRY_POINT_GROUP = "cpulab.tasks"
TASK_FUNCTION = "cpulab_task"  # what a task file defines
DEFAULT_METRIC = "score"
TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_TASK_FILE = 1 << 20  # bytes: far beyond any task's source, and read whole


class NotReadable(ValueError):
    """A file that is no regular file, or larger than its kind may be: the reason."""


def read_regular_text(path: Path, limit: int) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes (see read_regular_bytes),
    less a byte order mark some editors write first; UnicodeDecodeError where it is not
    UTF-8."""
    return read_regular_bytes(path, limit).decode("utf-8-sig")


def read_regular_bytes(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Opened without blocking, so
    that a named pipe never waits for a writer, and looked at before a byte is read, so
    that a device such as /dev/zero is never read at all: NotReadable where it is not such
    a file, OSError where it cannot be read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # what open(path) says of one
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise NotReadable(f"it is a {file_kind(mode)}, not a regular file")
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)  # one more: a file that grew since is refused too
    finally:
        os.close(fd)
    if len(data) > limit:
        raise NotReadable(f"it is larger than {limit / (1 << 20):g} MiB")
    return data


@dataclass(frozen=True)
class Description:
    """What a plug-in's source says about its task, read without running it."""

    name: str | None  # NAME, where the source sets it
    title: str
    description: str
    knobs: frozenset[str]
    metric: str
    data_kind: str | None = None  # DATA_KIND: the --data target it takes, if any


class Catalogue:
    """Every task cpulab can run here: built-ins first, then installed plug-ins, then the
    user's task files; and the installed plug-ins left out, one line each."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = dict(CATALOGUE)
        self.problems: list[str] = []  # broken installed plug-ins: warnings, never fatal
        self.from_files: list[str] = []  # names of the tasks the --task-file options gave
        self._left_out: dict[str, str] = {}  # plug-in name -> why it cannot run

    def add_plugin(self, entry_point: EntryPoint) -> None:
        """Add an installed plug-in, or record why it cannot be used."""
        try:
            task = plugin_task(entry_point)
            self._check_free(task.name, _label(entry_point), "rename its entry point")
        except UsageError as exc:
            self.problems.append(str(exc))
            self._left_out.setdefault(entry_point.name, str(exc))
            return
        self.tasks[task.name] = task

    def add_task_file(self, path: Path) -> None:
        """Add a task file the user named: any problem with it is bad input."""
        task = task_file_task(path)
        if task.builder in (self.tasks[name].builder for name in self.from_files):
            return  # the same file named twice
        self._check_free(task.name, str(path), "set NAME in the file to another name")
        self.tasks[task.name] = task
        self.from_files.append(task.name)

    def _check_free(self, name: str, where: str, remedy: str) -> None:
        if name in self.tasks:
            raise UsageError(
                f"{where}: the task name {name!r} is taken ({self.tasks[name].origin}): {remedy}"
            )

    def get(self, name: str | None) -> Task:
        """The task a command names; with no name, the one task file's task."""
        if name is None:
            if len(self.from_files) == 1:
                return self.tasks[self.from_files[0]]
            raise UsageError("name the task to run (see `cpulab tasks`), or give one --task-file")
        if name in self._left_out and name not in self.tasks:
            raise UsageError(self._left_out[name])
        return get_task(name, self.tasks)


def load_catalogue(task_files: Sequence[Path] = ()) -> Catalogue:
    """The tasks for the CLI and the app. A broken installed plug-in is left out and
    reported in `problems`; a broken task file raises UsageError, since the user named it.
    Cheap enough for start-up: it reads sources, and imports no plug-in."""
    catalogue = Catalogue()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        catalogue.add_plugin(entry_point)
    for path in task_files:
        catalogue.add_task_file(path)
    return catalogue


def task_file_task(path: Path) -> Task:
    """The task a task file describes; UsageError naming the file where it cannot."""
    where = str(path)
    try:
        # Decoded as Python reads a source file: UTF-8, with or without a byte order mark,
        # or as a coding line says.
        source = importlib.util.decode_source(read_regular_bytes(path, MAX_TASK_FILE))
    except FileNotFoundError:
        raise UsageError(f"{where}: no such task file") from None
    except (OSError, ValueError, SyntaxError) as exc:
        # ValueError: NotReadable, UnicodeDecodeError; SyntaxError: a coding line of no codec
        reason = getattr(exc, "strerror", None) or getattr(exc, "msg", None) or exc
        raise UsageError(f"{where}: cannot read it: {reason}") from None
    described = describe(source, where, TASK_FUNCTION)
    name = described.name or path.stem.replace("_", "-")
    return _task(described, name, where, f"{path.resolve()}:{TASK_FUNCTION}", f"task file {path}")


def plugin_task(entry_point: EntryPoint) -> Task:
    """The task an installed plug-in's module describes; UsageError where it cannot."""
    name, module, function = entry_point.name, entry_point.module, entry_point.attr
    where = _label(entry_point)
    if not function or not function.isidentifier():
        raise UsageError(f"{where}: the entry point must name a function, as module:function")
    source = _module_source(module, where)
    dist = entry_point.dist
    origin = f"plug-in from {dist.name} {dist.version}" if dist else "plug-in"
    return _task(describe(source, where, function), name, where, f"{module}:{function}", origin)


def _label(entry_point: EntryPoint) -> str:
    return f"plug-in {entry_point.name} ({entry_point.value})"


def _task(described: Description, name: str, where: str, builder: str, origin: str) -> Task:
    if not TASK_NAME.fullmatch(name):
        raise UsageError(
            f"{where}: {name!r} cannot be a task name: use letters, digits, '-', '_' and '.'"
        )
    return Task(
        name=name,
        title=described.title or name,
        description=described.description,
        knobs=described.knobs,
        metric=described.metric,
        builder=builder,
        data_kind=described.data_kind,
        origin=origin,
    )


def _module_source(module: str, where: str) -> str:
    """An installed plug-in's source, found without importing the module."""
    try:
        spec = importlib.util.find_spec(module)
        loader = spec.loader if spec is not None else None
        source = loader.get_source(module) if isinstance(loader, InspectLoader) else None
    except Exception as exc:  # a parent package that fails to import, an unreadable file
        raise UsageError(f"{where}: cannot find its module: {_failure(exc)}") from None
    if spec is None:
        raise UsageError(f"{where}: module {module} not found")
    if source is None:
        raise UsageError(f"{where}: module {module} has no Python source to read")
    return source


def describe(source: str, where: str, function: str) -> Description:
    """Read a plug-in's description from its source: the module docstring (first line the
    title, the rest the description) and the literals NAME, KNOBS, METRIC and DATA_KIND."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes, on older Pythons
        lineno = exc.lineno if isinstance(exc, SyntaxError) else None
        line = f"line {lineno}: " if lineno else ""
        raise UsageError(f"{where}: {line}{getattr(exc, 'msg', exc)}") from None
    if function not in _top_level_names(tree):
        raise UsageError(f"{where}: no function {function}")
    constants = _literals(tree, where, ("NAME", "KNOBS", "METRIC", "DATA_KIND"))
    name = constants.get("NAME")
    if name is not None and not isinstance(name, str):
        raise UsageError(f"{where}: NAME must be a string")
    knobs = constants.get("KNOBS", KNOBS)
    if isinstance(knobs, str) or not isinstance(knobs, (tuple, list, set, frozenset)):
        raise UsageError(f'{where}: KNOBS must be a tuple such as ("train", "eval")')
    if not knobs or not set(knobs) <= set(KNOBS):
        raise UsageError(f"{where}: KNOBS must hold one or both of {', '.join(map(repr, KNOBS))}")
    metric = constants.get("METRIC", DEFAULT_METRIC)
    if not isinstance(metric, str) or not metric.strip():
        raise UsageError(f"{where}: METRIC must be a non-empty string")
    data_kind = constants.get("DATA_KIND")
    if data_kind is not None and data_kind not in KINDS:
        raise UsageError(f"{where}: DATA_KIND must be one of {', '.join(map(repr, KINDS))}")
    title, _, rest = (ast.get_docstring(tree) or "").strip().partition("\n")
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", rest))
    return Description(
        name=name,
        title=title.strip().removesuffix("."),  # a title, not a sentence
        description="\n\n".join(p for p in paragraphs if p),
        knobs=frozenset(knobs),
        metric=metric.strip(),
        data_kind=data_kind,
    )


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module binds at its top level: functions, assignments and imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).partition(".")[0] for alias in node.names)
    return names


def _literals(tree: ast.Module, where: str, names: tuple[str, ...]) -> dict[str, object]:
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                raise UsageError(
                    f"{where}: line {node.lineno}: {target.id} must be a plain literal: "
                    "cpulab reads it without running the file"
                ) from None
    return values


# The runner child's side: import a builder and make sure it yields a Workload.


def import_builder(reference: str) -> Callable[[Setting], Workload]:
    """Import a task's builder, "module:function" or "/path/to/file.py:function", and wrap
    it so it always returns a Workload (an Experiment becomes one). A plug-in that cannot
    be imported, lacks the function or returns something else is bad input: a UsageError
    naming its file or module."""
    target, _, function = reference.rpartition(":")
    if Path(target).is_absolute():
        where, module = target, _import_task_file(Path(target))
    else:
        where, module = f"task module {target}", _import_module(target)
    build = getattr(module, function, None)
    if not callable(build):
        raise UsageError(f"{where}: no function {function}")

    def build_workload(setting: Setting) -> Workload:
        made = build(setting)
        if isinstance(made, Experiment):
            return experiment_workload(made, setting, where)
        if not isinstance(made, Workload):
            raise UsageError(
                f"{where}: {function} returned {type(made).__name__}, "
                "not a cpulab.api.Workload or cpulab.api.Experiment"
            )
        return checked_workload(made, setting, where)

    return build_workload


def checked_workload(workload: Workload, setting: Setting, where: str) -> Workload:
    """A task's own Workload, refused (UsageError) where the runner cannot use it: its call
    and score not callable, or more worker processes than any split may ask (cpulab starts
    `worker_jobs` of them before the call: 10,000 would swamp the machine)."""
    for name in ("call", "score"):
        if not callable(getattr(workload, name)):
            found = type(getattr(workload, name)).__name__
            raise UsageError(f"{where}: its Workload's {name} is {found}, not a function")
    jobs = workload.worker_jobs
    most = max(setting.train, setting.eval, CORES_PER_CORE * available_cores())
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= most:
        raise UsageError(
            f"{where}: its Workload's worker_jobs is {jobs!r}: a whole number of worker "
            f"processes from 1 to {most} ({CORES_PER_CORE} per available core, or the split's)"
        )
    return workload


def _import_task_file(path: Path) -> ModuleType:
    name = "cpulab_task_file_" + re.sub(r"\W", "_", path.stem)
    # An explicit loader: spec_from_file_location alone accepts only .py names.
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None  # with a loader given, there is always a spec
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look classes up by module name
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # sys.exit() at import fails the import too
        del sys.modules[name]
        raise UsageError(f"{path}: importing it raised {_failure(exc)}") from None
    _pickle_by_value(module)
    return module


def _pickle_by_value(module: ModuleType) -> None:
    """joblib's worker processes cannot import a task file by its name: have the picklers
    that send them jobs carry the file's functions and classes by value instead. joblib
    before 1.6 ships its own copy of cloudpickle; Dask uses the standalone one."""
    for name in ("joblib.externals.cloudpickle", "cloudpickle"):
        try:
            pickler = importlib.import_module(name)
        except ImportError:
            continue
        pickler.register_pickle_by_value(module)


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except (Exception, SystemExit) as exc:
        raise UsageError(f"task module {name}: importing it raised {_failure(exc)}") from None


def _failure(exc: BaseException) -> str:
    """An exception in one line: its type, its message, and where it was raised."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):  # its message already names the file and line
        return text
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    if frames:
        text += f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})"
    return text


def experiment_workload(experiment: Experiment, setting: Setting, where: str) -> Workload:
    """An Experiment as a Workload: the estimator's n_jobs get the training cores, and
    `cross_val_score` over the evaluation cores is the timed call."""
    import numpy as np
    from sklearn.base import is_classifier
    from sklearn.metrics import check_scoring, get_scorer_names
    from sklearn.model_selection import check_cv, cross_val_score
    from sklearn.utils import check_consistent_length

    estimator = experiment.estimator
    if not hasattr(estimator, "get_params"):
        raise UsageError(
            f"{where}: the Experiment's estimator must be a scikit-learn estimator, not "
            f"{type(estimator).__name__}; return a Workload to time anything else"
        )
    n_jobs = [p for p in estimator.get_params() if p == "n_jobs" or p.endswith("__n_jobs")]
    if not n_jobs and setting.train != 1:
        raise UsageError(
            f"{where}: {type(estimator).__name__} has no n_jobs to give training cores to: "
            'set KNOBS = ("eval",) in the file'
        )
    estimator.set_params(**dict.fromkeys(n_jobs, setting.train))
    # What cross_val_score would refuse only once timed: refused here, as bad input.
    scoring = experiment.scoring
    if isinstance(scoring, str) and scoring not in get_scorer_names():
        raise UsageError(
            f"{where}: the Experiment's scoring {scoring!r} is none of scikit-learn's"
            " (sklearn.metrics.get_scorer_names() lists them)"
        )
    try:
        check_consistent_length(experiment.X, experiment.y)
        cv = check_cv(experiment.cv, experiment.y, classifier=is_classifier(estimator))
        next(iter(cv.split(experiment.X, experiment.y)), None)  # more folds than rows, say
        check_scoring(estimator, scoring)
    except (ValueError, TypeError) as exc:
        said = " ".join(str(exc).split())
        raise UsageError(f"{where}: the Experiment cannot be cross-validated: {said}") from None

    def score(scores) -> tuple[float, dict]:
        return float(np.mean(scores)), {"std": float(np.std(scores)), "folds": len(scores)}

    return Workload(
        call=lambda: cross_val_score(
            estimator,
            experiment.X,
            experiment.y,
            cv=cv,
            scoring=scoring,
            n_jobs=setting.eval,
            # A fold that fails fails the run, with the estimator's own error: scikit-learn
            # would score it NaN, or report only that every fit failed.
            error_score="raise",
        ),
        score=score,
        progress_unit="folds",
        progress_total=cv.get_n_splits(experiment.X, experiment.y),
        worker_jobs=setting.eval,
    )
