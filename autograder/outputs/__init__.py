"""What grading produces: nbgrader's gradebook, per-student feedback pages and the exports (CSV, Gradescope results).

Every student-controlled string is made inert for its medium by :mod:`autograder.outputs.safe`;
:mod:`autograder.outputs.sanitize` is the markdown filter the course's ``nbgrader_config.py``
gives Formgrader.
"""
