"""The task catalogue: what each experiment is, without importing what it runs.

A task names its workload builder as "module:function"; only the runner child imports
it, so listing tasks (and the whole UI process) stays free of scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

from cpulab.engine.cores import CoreSplit
from cpulab.engine.errors import UsageError

SCALES = ("small", "full")
KNOBS = ("train", "eval")
KNOB_TITLES = {"train": "training cores", "eval": "evaluation cores"}


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    description: str
    knobs: frozenset[str]  # which of "train" and "eval" the workload honours
    metric: str
    builder: str  # "module:function" returning a Workload, imported in the child only

    def check_split(self, split: CoreSplit) -> None:
        """Refuse cores on a knob this task has no use for: they would be silently idle."""
        for knob in KNOBS:
            if knob not in self.knobs and getattr(split, knob) != 1:
                raise UsageError(
                    f"{self.name} has no {KNOB_TITLES[knob]} knob: leave it at 1 "
                    f"(it honours {', '.join(KNOB_TITLES[k] for k in sorted(self.knobs))})"
                )


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
        ),
    )
}


def get_task(name: str) -> Task:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UsageError(f"unknown task {name!r}: choose one of {', '.join(CATALOGUE)}") from None


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise UsageError(f"unknown scale {scale!r}: choose small or full")
    return scale
