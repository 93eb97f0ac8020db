"""The seed experiments as workloads. Imported only in the runner child.

Each builder receives the `Setting` (core split, scale, the user's data), prepares its
data, and returns a `Workload`: the one parallel call to time, and how to score what it
returned. `full` reproduces the seed articles' sizes and settings; `small` keeps the same
shape (same models, same kind of CV) at a size that fits well under a second (each task's
`small` in tasks.py says its sizes, for the app and `cpulab tasks`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from joblib import Parallel, delayed
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge, RidgeClassifier
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import (
    GridSearchCV,
    RepeatedStratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.svm import SVC, NuSVR
from sklearn.utils.fixes import parse_version

from cpulab.api import Dataset, Setting, Workload
from cpulab.engine.errors import UsageError

MIN_REGRESSION_ROWS = 8  # 6 to fit, 2 to score: fewer makes an RMSE mean nothing


def _seed_classes(n_samples: int):
    # The seed article's synthetic problem: 20 features, 15 informative, 5 redundant.
    return make_classification(
        n_samples=n_samples, n_features=20, n_informative=15, n_redundant=5, random_state=3
    )


def _data_details(data: Dataset | None) -> dict[str, Any]:
    """What a result says of the user's data: nothing where the task used its own."""
    if data is None:
        return {}
    return {
        "data": {
            "source": Path(data.source).name,
            "rows": len(data.y),
            "features": data.X.shape[1],
            "target": data.target_name,
            "kind": data.kind,
        }
    }


def _check_classes(data: Dataset, needed: int, what: str) -> None:
    labels, counts = np.unique(data.y, return_counts=True)
    fewest = int(np.argmin(counts))
    if counts[fewest] < needed:
        raise UsageError(
            f"{what} needs at least {needed} rows of every class; class "
            f"{labels[fewest].item()!r} has only {counts[fewest]} in {Path(data.source).name}"
        )


def _held_out(X, y, fraction: float, task: str, data: Dataset | None, classes: bool):
    """Split off `fraction` of the rows to score on, stratified where they are classes.
    The user's data is checked first, so that a split it cannot give is said plainly."""
    if data is not None and classes:
        what = f"the stratified {fraction:.0%} held-out split of {task}"
        _check_classes(data, 2, what)
        held = math.ceil(fraction * len(y))
        n_classes = len(np.unique(y))
        if min(held, len(y) - held) < n_classes:
            raise UsageError(
                f"{what} needs a row of each of the {n_classes} classes on both sides; "
                f"{Path(data.source).name} has {len(y)} rows in all"
            )
    elif data is not None and len(y) < MIN_REGRESSION_ROWS:
        raise UsageError(
            f"{task} needs at least {MIN_REGRESSION_ROWS} rows to fit on {1 - fraction:.0%} "
            f"and score on the rest; {Path(data.source).name} has {len(y)}"
        )
    return train_test_split(
        X, y, test_size=fraction, random_state=1, stratify=y if classes else None
    )


def _cv_scores(scores: np.ndarray, data: Dataset | None = None) -> tuple[float, dict[str, Any]]:
    details = {"std": float(np.std(scores)), "folds": len(scores), **_data_details(data)}
    return float(np.mean(scores)), details


def rf_train(setting: Setting) -> Workload:
    train, scale = setting.train, setting.scale
    trees, n_fit = (500, 10_000) if scale == "full" else (50, 2_000)
    data = setting.data
    if data is None:
        # The fit set is the seed's 10,000 rows; a further fifth drawn from the same
        # generator is held out so the score means something. Scoring is not timed.
        X, y = _seed_classes(n_fit + n_fit // 4)
        X_fit, y_fit, X_test, y_test = X[:n_fit], y[:n_fit], X[n_fit:], y[n_fit:]
    else:
        split = _held_out(data.X, data.y, 0.2, "rf-train", data, classes=True)
        X_fit, X_test, y_fit, y_test = split
    model = RandomForestClassifier(n_estimators=trees, n_jobs=train, random_state=1)

    def score(fitted):
        accuracy = float(accuracy_score(y_test, fitted.predict(X_test)))
        return accuracy, {"held_out": len(y_test), **_data_details(data)}

    return Workload(
        call=lambda: model.fit(X_fit, y_fit),
        score=score,
        progress_unit="trees",
        progress_total=trees,
    )


def _repeated_cv(scale: str) -> tuple[int, int, int, int]:
    """Samples, trees, folds and repeats shared by cv-eval and grid-search."""
    return (1_000, 100, 10, 3) if scale == "full" else (400, 10, 5, 2)


def _stratified_cv(data: Dataset | None, task: str, folds: int, repeats: int):
    if data is not None:
        _check_classes(data, folds, f"the stratified {folds}-fold cross-validation of {task}")
    return RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=1)


def cv_eval(setting: Setting) -> Workload:
    train, eval, scale = setting.train, setting.eval, setting.scale
    n_samples, trees, folds, repeats = _repeated_cv(scale)
    data = setting.data
    X, y = _seed_classes(n_samples) if data is None else (data.X, data.y)
    cv = _stratified_cv(data, "cv-eval", folds, repeats)
    model = RandomForestClassifier(n_estimators=trees, n_jobs=train, random_state=1)
    return Workload(
        call=lambda: cross_val_score(model, X, y, scoring="accuracy", cv=cv, n_jobs=eval),
        score=lambda scores: _cv_scores(scores, data),
        progress_unit="folds",
        progress_total=cv.get_n_splits(),
        worker_jobs=eval,
    )


def grid_search(setting: Setting) -> Workload:
    train, eval, scale = setting.train, setting.eval, setting.scale
    n_samples, trees, folds, repeats = _repeated_cv(scale)
    if scale != "full":
        folds, repeats = 3, 1
    data = setting.data
    X, y = _seed_classes(n_samples) if data is None else (data.X, data.y)
    cv = _stratified_cv(data, "grid-search", folds, repeats)
    model = RandomForestClassifier(n_estimators=trees, n_jobs=train, random_state=1)
    # max_features 1..5, as far as the data has features.
    grid = {"max_features": list(range(1, min(5, X.shape[1]) + 1))}
    search = GridSearchCV(model, grid, scoring="accuracy", cv=cv, n_jobs=eval)

    def score(fitted):
        details = {"best_params": fitted.best_params_, **_data_details(data)}
        return float(fitted.best_score_), details

    return Workload(
        call=lambda: search.fit(X, y),
        score=score,
        progress_unit="fits",
        progress_total=len(grid["max_features"]) * cv.get_n_splits(),
        worker_jobs=eval,
    )


def _rmse(y_true, y_pred) -> float:
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def _accuracy(y_true, y_pred) -> float:
    return float(accuracy_score(y_true, y_pred))


def _fit_and_measure(name, model, measure, X_train, y_train, X_test, y_test) -> tuple[str, float]:
    model.fit(X_train, y_train)
    return name, measure(y_test, model.predict(X_test))


def _models_at_once(
    setting: Setting,
    models: dict[str, Any],
    split: list,
    metric: str,
    measure: Callable[[Any, Any], float],
    best: Callable[..., str],
    data: Dataset | None,
) -> Workload:
    """Train every model on the same split, `setting.eval` of them at once, as the seed's
    process pool did; each is scored on the held-out rows by `measure`, and the `best`
    (min or max) of them is the score."""
    X_train, X_test, y_train, y_test = split

    def call():
        return Parallel(n_jobs=setting.eval)(
            delayed(_fit_and_measure)(name, model, measure, X_train, y_train, X_test, y_test)
            for name, model in models.items()
        )

    def score(outcome):
        values = dict(outcome)
        winner = best(values, key=values.get)
        return values[winner], {metric: values, "best_model": winner, **_data_details(data)}

    return Workload(
        call=call,
        score=score,
        progress_unit="models",
        progress_total=len(models),
        worker_jobs=setting.eval,
    )


def compare_regressors(setting: Setting) -> Workload:
    n_samples, trees = (5_000, 100) if setting.scale == "full" else (600, 20)
    data = setting.data
    if data is None:
        X, y = make_regression(
            n_samples=n_samples, n_features=20, n_informative=15, noise=10.0, random_state=3
        )
    else:
        X, y = data.X, data.y
    split = _held_out(X, y, 0.25, "compare-regressors", data, classes=False)
    models = {
        "random forest": RandomForestRegressor(
            n_estimators=trees, n_jobs=setting.train, random_state=1
        ),
        "NuSVR": NuSVR(),
        "ridge": Ridge(),
        "elastic net": ElasticNet(),
    }
    return _models_at_once(setting, models, split, "rmse", _rmse, min, data)


def _elastic_net_logistic() -> LogisticRegression:
    # The classifying counterpart of ElasticNet's default l1_ratio. scikit-learn 1.8 reads
    # the penalty from l1_ratio alone and deprecates `penalty`; older releases need it.
    if parse_version(sklearn.__version__) >= parse_version("1.8"):
        return LogisticRegression(solver="saga", l1_ratio=0.5)
    return LogisticRegression(penalty="elasticnet", solver="saga", l1_ratio=0.5)


def compare_classifiers(setting: Setting) -> Workload:
    n_samples, trees = (5_000, 100) if setting.scale == "full" else (600, 20)
    data = setting.data
    X, y = _seed_classes(n_samples) if data is None else (data.X, data.y)
    split = _held_out(X, y, 0.25, "compare-classifiers", data, classes=True)
    models = {
        "random forest": RandomForestClassifier(
            n_estimators=trees, n_jobs=setting.train, random_state=1
        ),
        "SVC": SVC(),
        "ridge": RidgeClassifier(),
        "logistic elastic net": _elastic_net_logistic(),
    }
    return _models_at_once(setting, models, split, "accuracy", _accuracy, max, data)


def digits_svc(setting: Setting) -> Workload:
    eval, scale = setting.eval, setting.scale
    X, y = load_digits(return_X_y=True)
    folds = 20
    if scale != "full":
        X, y, folds = X[:600], y[:600], 5
    return Workload(
        call=lambda: cross_val_score(SVC(), X, y, cv=folds, n_jobs=eval),
        score=_cv_scores,
        progress_unit="folds",
        progress_total=folds,
        worker_jobs=eval,
    )
