"""The shared training machinery: the loop (resume, Ctrl-C, NaN, hooks), the data feed,
checkpoints, the console/TensorBoard monitor, distribution helpers and mixed precision.
It knows a model only as a task (see loop.py)."""
