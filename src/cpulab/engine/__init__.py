"""The cpulab engine: tasks, cores, the child-process runner and its supervisor.

Nothing here imports Textual, and nothing imported by the parent process imports
scikit-learn: the workloads themselves are only imported inside the runner child.
"""
