"""Random forest cross-validation from a task file.

A 20-tree forest scored by 4-fold cross-validation on 300 synthetic rows.
"""

from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from cpulab.api import Experiment, Setting

METRIC = "accuracy"


def cpulab_task(setting: Setting) -> Experiment:
    X, y = make_classification(n_samples=300, n_features=10, random_state=0)
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    return Experiment(forest, X, y, cv=4, scoring="accuracy")
