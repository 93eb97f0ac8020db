"""The seed workloads written as plain scripts, for the fidelity benchmark.

    python bench/plain_workload.py TASK TRAIN EVAL

Deliberately independent of cpulab: scikit-learn and joblib only, the same data, models and
CV as cpulab's `full` scale. Like cpulab, it starts joblib's worker pool (and imports
scikit-learn in it) before the timed call, so both time the same warm call. Prints the
seconds of that call.
"""

from __future__ import annotations

import sys
import time


def _warm_pool(n_jobs: int) -> None:
    from joblib import Parallel, delayed

    def load(_):
        import sklearn.ensemble
        import sklearn.model_selection
        import sklearn.svm  # noqa: F401

        time.sleep(0.05)

    Parallel(n_jobs=n_jobs)(delayed(load)(i) for i in range(n_jobs))


def main() -> int:
    task, train, eval_ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, cross_val_score

    if eval_ > 1:
        _warm_pool(eval_)
    if task == "rf-train":
        X, y = make_classification(
            n_samples=12_500, n_features=20, n_informative=15, n_redundant=5, random_state=3
        )
        model = RandomForestClassifier(n_estimators=500, n_jobs=train, random_state=1)
        start = time.perf_counter()
        model.fit(X[:10_000], y[:10_000])
    else:
        X, y = make_classification(
            n_samples=1_000, n_features=20, n_informative=15, n_redundant=5, random_state=3
        )
        model = RandomForestClassifier(n_estimators=100, n_jobs=train, random_state=1)
        cv = RepeatedStratifiedKFold(n_splits=10, n_repeats=3, random_state=1)
        if task == "cv-eval":
            start = time.perf_counter()
            cross_val_score(model, X, y, scoring="accuracy", cv=cv, n_jobs=eval_)
        elif task == "grid-search":
            grid = {"max_features": [1, 2, 3, 4, 5]}
            search = GridSearchCV(model, grid, scoring="accuracy", cv=cv, n_jobs=eval_)
            start = time.perf_counter()
            search.fit(X, y)
        else:
            raise SystemExit(f"no plain version of {task}")
    print(f"{time.perf_counter() - start:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
