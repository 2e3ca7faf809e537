"""One run, one process: the launcher, the worker and what watches them."""
