"""Where grading runs besides the local pool: a Dask cluster and the Gradescope autograder package."""
