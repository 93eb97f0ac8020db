"""The Textual face of cpulab. It drives the engine and never imports scikit-learn."""
