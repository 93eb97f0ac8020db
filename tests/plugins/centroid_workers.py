"""Nearest centroids fitted in worker processes.

A workload with full control: a model class and a fitting function defined here run in
joblib's worker processes, one fold each, and report the process they ran in.

With CENTROIDS_FOLD_PAUSE set, each fold also waits that many seconds, as a fold reading its
data from a slow disk would: a slowed variant of the same task, whatever else the machine runs.
"""

import os
import time

import numpy as np
from joblib import Parallel, delayed

from cpulab.api import Setting, Workload

NAME = "centroids"
KNOBS = ("eval",)
METRIC = "accuracy"


class NearestCentroid:
    def fit(self, X, y):
        self.labels = np.unique(y)
        self.centroids = np.array([X[y == label].mean(axis=0) for label in self.labels])
        return self

    def predict(self, X):
        distances = ((X[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        return self.labels[distances.argmin(axis=1)]


def score_fold(model: NearestCentroid, X, y, test, pause: float) -> tuple[float, int]:
    time.sleep(pause)
    train = np.ones(len(y), dtype=bool)
    train[test] = False
    model.fit(X[train], y[train])
    return float(np.mean(model.predict(X[test]) == y[test])), os.getpid()


def cpulab_task(setting: Setting) -> Workload:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (200, 5)), rng.normal(1.5, 1, (200, 5))])
    y = np.repeat([0, 1], 200)
    folds = np.array_split(rng.permutation(len(y)), 4)
    pause = float(os.environ.get("CENTROIDS_FOLD_PAUSE", "0"))

    def call():
        return Parallel(n_jobs=setting.eval)(
            delayed(score_fold)(NearestCentroid(), X, y, test, pause) for test in folds
        )

    def score(outcome):
        accuracies, pids = zip(*outcome, strict=True)
        return float(np.mean(accuracies)), {"worker_pids": sorted(set(pids))}

    return Workload(
        call=call,
        score=score,
        progress_unit="folds",
        progress_total=len(folds),
        worker_jobs=setting.eval,
    )
