"""cpulab: a terminal lab for seeing how machine-learning work scales across CPU cores."""

__version__ = "0.1.0"
