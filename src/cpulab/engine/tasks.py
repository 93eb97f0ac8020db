"""The task catalogue: what each experiment is, without importing what it runs.

A task names its workload builder as "module:function"; only the runner child imports
it, so listing tasks (and the whole UI process) stays free of scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cpulab.engine.cores import CoreSplit
from cpulab.engine.datafile import DataSpec
from cpulab.engine.errors import UsageError

SCALES = ("small", "full")
KNOBS = ("train", "eval")
KNOB_TITLES = {"train": "training cores", "eval": "evaluation cores"}


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    description: str  # of the task at full scale: the seed experiment's sizes
    knobs: frozenset[str]  # which of "train" and "eval" the workload honours
    metric: str
    builder: str  # "module:function" returning a Workload, imported in the child only
    data_kind: str | None = None  # the target --data must have; None: the task's own data only
    origin: str = "built-in"  # or the task file or installed plug-in it comes from
    small: str = ""  # what the small scale runs instead (workloads.py has the sizes)

    def check_split(self, split: CoreSplit) -> None:
        """Refuse cores on a knob this task has no use for: they would be silently idle."""
        for knob in KNOBS:
            if knob not in self.knobs and getattr(split, knob) != 1:
                raise UsageError(
                    f"{self.name} has no {KNOB_TITLES[knob]} knob: leave it at 1 "
                    f"(it honours {', '.join(KNOB_TITLES[k] for k in sorted(self.knobs))})"
                )

    def check_data(
        self, data: DataSpec | None, catalogue: Mapping[str, Task] | None = None
    ) -> None:
        """Refuse --data on a task that runs on its own data, and a --kind it cannot use.
        The tasks named as taking --data come from `catalogue` (default: the built-in ones)."""
        if data is None:
            return
        tasks = CATALOGUE if catalogue is None else catalogue
        if self.data_kind is None:
            takers = ", ".join(task.name for task in tasks.values() if task.data_kind)
            raise UsageError(
                f"{self.name} runs on its own data, not --data (tasks that take it: {takers})"
            )
        if data.kind is not None and data.kind != self.data_kind:
            raise UsageError(
                f"{self.name} needs a {self.data_kind} target, not --kind {data.kind} "
                f"(use {_task_for(data.kind)}, or --kind {self.data_kind})"
            )
        if data.shown_kind is not None:  # what the runner would find, found sooner
            self.check_data_kind(data.shown_kind, data.target, data.shown_kind == "regression")

    def check_data_kind(self, kind: str, target: str, numeric: bool) -> None:
        """The runner's check of the kind it found in every row of the target."""
        if kind == self.data_kind:
            return
        holds = "classes" if kind == "classification" else "numbers"
        # Classes can be named by anything; amounts have to be numbers.
        other = f", or --kind {self.data_kind}" if numeric or self.data_kind != "regression" else ""
        raise UsageError(
            f"{self.name} needs a {self.data_kind} target; {target} holds {holds} "
            f"(use {_task_for(kind)}{other})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "knobs": sorted(self.knobs)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        return cls(**{**data, "knobs": frozenset(data["knobs"])})


_WORKLOADS = "cpulab.engine.workloads"

CATALOGUE: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="rf-train",
            title="Random forest training",
            description=(
                "Fit a 500-tree random forest on 10,000 x 20 synthetic classes "
                "(15 informative, 5 redundant). Trees are built in parallel threads."
            ),
            knobs=frozenset({"train"}),
            metric="accuracy",
            builder=f"{_WORKLOADS}:rf_train",
            small="50 trees on 2,000 x 20.",
            data_kind="classification",
        ),
        Task(
            name="cv-eval",
            title="Repeated k-fold evaluation",
            description=(
                "Score a 100-tree random forest with 3 x repeated stratified 10-fold "
                "cross-validation on 1,000 x 20: 30 fits, spread over evaluation cores."
            ),
            knobs=frozenset({"train", "eval"}),
            metric="accuracy",
            builder=f"{_WORKLOADS}:cv_eval",
            small="10 trees, 2 x repeated 5-fold CV on 400 x 20: 10 fits.",
            data_kind="classification",
        ),
        Task(
            name="grid-search",
            title="Grid search",
            description=(
                "Tune max_features 1..5 of a 100-tree random forest with the same "
                "repeated 10-fold CV: 150 fits plus the refit."
            ),
            knobs=frozenset({"train", "eval"}),
            metric="accuracy",
            builder=f"{_WORKLOADS}:grid_search",
            small="10 trees, 3-fold CV once on 400 x 20: 15 fits plus the refit.",
            data_kind="classification",
        ),
        Task(
            name="compare-regressors",
            title="Compare regressors",
            description=(
                "Train random forest, NuSVR, ridge and elastic net on one regression set "
                "and report held-out RMSE; the models run side by side with joblib."
            ),
            knobs=frozenset({"train", "eval"}),
            metric="rmse",
            builder=f"{_WORKLOADS}:compare_regressors",
            small="600 samples and a 20-tree forest (5,000 and 100 at full scale).",
            data_kind="regression",
        ),
        Task(
            name="compare-classifiers",
            title="Compare classifiers",
            description=(
                "Train random forest, SVC, ridge and elastic-net logistic regression on one "
                "set of classes and report held-out accuracy; the models run side by side."
            ),
            knobs=frozenset({"train", "eval"}),
            metric="accuracy",
            builder=f"{_WORKLOADS}:compare_classifiers",
            small="600 samples and a 20-tree forest (5,000 and 100 at full scale).",
            data_kind="classification",
        ),
        Task(
            name="digits-svc",
            title="Digits SVC cross-validation",
            description=(
                "Score an RBF support vector classifier on the 8x8 digits set with "
                "20-fold cross-validation."
            ),
            knobs=frozenset({"eval"}),
            metric="accuracy",
            builder=f"{_WORKLOADS}:digits_svc",
            small="the first 600 digits, 5-fold CV (all 1,797 and 20 folds at full scale).",
        ),
    )
}


def _task_for(kind: str) -> str:
    """The built-in task to suggest for data of a kind: it compares several models on it."""
    return {"classification": "compare-classifiers", "regression": "compare-regressors"}[kind]


def get_task(name: str, catalogue: Mapping[str, Task] = CATALOGUE) -> Task:
    try:
        return catalogue[name]
    except KeyError:
        raise UsageError(f"unknown task {name!r}: choose one of {', '.join(catalogue)}") from None


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise UsageError(f"unknown scale {scale!r}: choose small or full")
    return scale
