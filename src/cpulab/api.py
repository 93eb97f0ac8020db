"""What a task receives and what it returns: the contract for built-in tasks and plug-ins.

A task is a function `build(setting: Setting) -> Workload`. cpulab calls it in the runner
child, times `workload.call()` alone, then scores its outcome. This module imports nothing
heavy, so a plug-in can import it at no cost.

The user's own tasks come as task files (`--task-file my_task.py`) or as installed plug-ins
(entry points in the group `cpulab.tasks`, named after the task, valued "module:function").
A task file defines `cpulab_task(setting: Setting)`, returning either a `Workload` (full
control) or an `Experiment` (cpulab times cross-validation of an estimator). cpulab reads
what describes the task without running the file: the module docstring (its first line is
the title, the rest the description) and these optional constants, as plain literals:

    NAME = "my-task"            # default: the file name, "_" turned into "-"
    KNOBS = ("train", "eval")   # the core knobs the task honours (default both)
    METRIC = "accuracy"         # what the score means (default "score")

An installed plug-in's module is read the same way; its entry point's name is the task name.
The file is imported in the runner child only, where joblib's worker processes receive
its functions and classes by value: a task file may define its own estimator classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Modules a joblib worker needs before it can run scikit-learn jobs; importing them while
# the workers start keeps that cost out of the measured call.
WORKER_MODULES = (
    "sklearn.ensemble",
    "sklearn.model_selection",
    "sklearn.svm",
    "sklearn.linear_model",
)


@dataclass(frozen=True)
class Dataset:
    """The user's `--data`, loaded: numeric features and a target, ready to fit."""

    X: Any  # numpy array, rows x features, float
    y: Any  # numpy array: class labels or numbers
    kind: str  # "classification" or "regression"
    source: str  # the file it came from
    feature_names: tuple[str, ...]
    target_name: str


@dataclass(frozen=True)
class Setting:
    """Everything a task needs to know to build its workload."""

    train: int  # estimator n_jobs: training cores
    eval: int  # cross-validation / search / models-at-once n_jobs: evaluation cores
    scale: str  # "small" (quick) or "full" (the real experiment)
    data: Dataset | None = None  # the user's data where given, else the task's own
    backend: str = "loky"  # joblib backend in effect for the measured call


@dataclass
class Experiment:
    """The simple form of a task: cross-validate `estimator` on `X`, `y`.

    cpulab sets every `n_jobs` parameter of the estimator (those of a pipeline's steps
    included) to the training cores, and times
    `cross_val_score(estimator, X, y, cv=cv, scoring=scoring, n_jobs=<evaluation cores>)`.
    Progress counts folds; the score is the mean over folds, the details its standard
    deviation and the number of folds.
    """

    estimator: Any  # a scikit-learn estimator
    X: Any
    y: Any
    cv: Any = 5  # a number of folds or any scikit-learn cross-validation splitter
    scoring: Any = None  # a scorer name or callable; None: the estimator's own score method


@dataclass
class Workload:
    call: Callable[[], Any]  # the parallel call that is timed, nothing else
    # outcome -> (score, details): a number or None, and a dict of JSON values
    score: Callable[[Any], tuple[float | None, dict[str, Any]]]
    progress_unit: str  # what the outermost joblib call counts: trees, folds, fits, models
    progress_total: int | None
    worker_jobs: int = 1  # n_jobs of the process-based joblib call; 1 means no workers
    worker_modules: tuple[str, ...] = WORKER_MODULES
