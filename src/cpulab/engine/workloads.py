"""The seed experiments as workloads. Imported only in the runner child.

Each builder receives the `Setting` (core split, scale, the user's data), prepares its
data, and returns a `Workload`: the one parallel call to time, and how to score what it
returned. `full` reproduces the seed articles' sizes and settings; `small` keeps the same
shape (same models, same kind of CV) at a size that fits well under a second.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import ElasticNet, Ridge
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import (
    GridSearchCV,
    RepeatedStratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.svm import SVC, NuSVR

from cpulab.api import Setting, Workload


def _seed_classes(n_samples: int):
    # The seed article's synthetic problem: 20 features, 15 informative, 5 redundant.
    return make_classification(
        n_samples=n_samples, n_features=20, n_informative=15, n_redundant=5, random_state=3
    )


def _cv_scores(scores: np.ndarray) -> tuple[float, dict[str, Any]]:
    return float(np.mean(scores)), {"std": float(np.std(scores)), "folds": len(scores)}


def rf_train(setting: Setting) -> Workload:
    train, scale = setting.train, setting.scale
    trees, n_fit = (500, 10_000) if scale == "full" else (50, 2_000)
    # The fit set is the seed's 10,000 rows; a further fifth drawn from the same
    # generator is held out so the score means something. Scoring is not timed.
    X, y = _seed_classes(n_fit + n_fit // 4)
    X_fit, y_fit, X_test, y_test = X[:n_fit], y[:n_fit], X[n_fit:], y[n_fit:]
    model = RandomForestClassifier(n_estimators=trees, n_jobs=train, random_state=1)

    def score(fitted):
        return float(accuracy_score(y_test, fitted.predict(X_test))), {"held_out": len(y_test)}

    return Workload(
        call=lambda: model.fit(X_fit, y_fit),
        score=score,
        progress_unit="trees",
        progress_total=trees,
    )


def _repeated_cv(scale: str) -> tuple[int, int, RepeatedStratifiedKFold]:
    """Samples, trees and CV scheme shared by cv-eval and grid-search."""
    if scale == "full":
        return 1_000, 100, RepeatedStratifiedKFold(n_splits=10, n_repeats=3, random_state=1)
    return 400, 10, RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=1)


def cv_eval(setting: Setting) -> Workload:
    train, eval, scale = setting.train, setting.eval, setting.scale
    n_samples, trees, cv = _repeated_cv(scale)
    X, y = _seed_classes(n_samples)
    model = RandomForestClassifier(n_estimators=trees, n_jobs=train, random_state=1)
    return Workload(
        call=lambda: cross_val_score(model, X, y, scoring="accuracy", cv=cv, n_jobs=eval),
        score=_cv_scores,
        progress_unit="folds",
        progress_total=cv.get_n_splits(),
        worker_jobs=eval,
    )


def grid_search(setting: Setting) -> Workload:
    train, eval, scale = setting.train, setting.eval, setting.scale
    n_samples, trees, cv = _repeated_cv(scale)
    if scale != "full":
        cv = RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=1)
    X, y = _seed_classes(n_samples)
    model = RandomForestClassifier(n_estimators=trees, n_jobs=train, random_state=1)
    grid = {"max_features": [1, 2, 3, 4, 5]}
    search = GridSearchCV(model, grid, scoring="accuracy", cv=cv, n_jobs=eval)

    def score(fitted):
        return float(fitted.best_score_), {"best_params": fitted.best_params_}

    return Workload(
        call=lambda: search.fit(X, y),
        score=score,
        progress_unit="fits",
        progress_total=len(grid["max_features"]) * cv.get_n_splits(),
        worker_jobs=eval,
    )


def _fit_and_rmse(name, model, X_train, y_train, X_test, y_test) -> tuple[str, float]:
    model.fit(X_train, y_train)
    return name, float(np.sqrt(mean_squared_error(y_test, model.predict(X_test))))


def compare_regressors(setting: Setting) -> Workload:
    train, eval, scale = setting.train, setting.eval, setting.scale
    n_samples, trees = (5_000, 100) if scale == "full" else (600, 20)
    X, y = make_regression(
        n_samples=n_samples, n_features=20, n_informative=15, noise=10.0, random_state=3
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=1)
    models = {
        "random forest": RandomForestRegressor(n_estimators=trees, n_jobs=train, random_state=1),
        "NuSVR": NuSVR(),
        "ridge": Ridge(),
        "elastic net": ElasticNet(),
    }

    def call():
        # Evaluation cores = models trained at once, as the seed's process pool did.
        return Parallel(n_jobs=eval)(
            delayed(_fit_and_rmse)(name, model, X_train, y_train, X_test, y_test)
            for name, model in models.items()
        )

    def score(outcome):
        rmse = dict(outcome)
        best = min(rmse, key=rmse.get)
        return rmse[best], {"rmse": rmse, "best_model": best}

    return Workload(
        call=call,
        score=score,
        progress_unit="models",
        progress_total=len(models),
        worker_jobs=eval,
    )


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
