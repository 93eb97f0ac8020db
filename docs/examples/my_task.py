"""Breast-cancer forest.

Standardise, then a random forest, scored by 5-fold cross-validation on scikit-learn's
breast cancer set (569 rows x 30 features). Training cores go to the forest's n_jobs,
evaluation cores to the folds.
"""

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cpulab.api import Experiment, Setting

NAME = "cancer-forest"
METRIC = "accuracy"


def cpulab_task(setting: Setting) -> Experiment:
    X, y = load_breast_cancer(return_X_y=True)
    trees = 300 if setting.scale == "full" else 30
    forest = RandomForestClassifier(n_estimators=trees, random_state=0)
    return Experiment(make_pipeline(StandardScaler(), forest), X, y, cv=5, scoring="accuracy")
