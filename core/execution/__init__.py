"""Running a plan of steps: context, IO, outputs, the executor, `materialize`."""
