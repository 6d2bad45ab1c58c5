"""What grading produces: nbgrader's gradebook, per-student feedback pages and the exports (CSV, Gradescope results)."""
