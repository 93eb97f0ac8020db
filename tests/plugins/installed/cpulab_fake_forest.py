"""Forest training from an installed plug-in.

A 10-tree forest cross-validated three times on 200 synthetic rows; training cores only.
"""

from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from cpulab.api import Experiment, Setting

KNOBS = ("train",)
METRIC = "accuracy"


def build(setting: Setting) -> Experiment:
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    return Experiment(RandomForestClassifier(n_estimators=10, random_state=0), X, y, cv=3)
