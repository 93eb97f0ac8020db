"""The app's widgets, each usable on its own."""

from cpulab.ui.widgets.choice_button import ChoiceButton, TickBox
from cpulab.ui.widgets.core_grid import CoreGrid, WorkerGrid
from cpulab.ui.widgets.keys_footer import KeysFooter
from cpulab.ui.widgets.results_table import ResultsTable
from cpulab.ui.widgets.run_status import RunStatus
from cpulab.ui.widgets.scaling_chart import ScalingChart
from cpulab.ui.widgets.split_control import CoreInput, SplitControl

__all__ = [
    "ChoiceButton",
    "CoreGrid",
    "CoreInput",
    "KeysFooter",
    "ResultsTable",
    "RunStatus",
    "ScalingChart",
    "SplitControl",
    "TickBox",
    "WorkerGrid",
]
