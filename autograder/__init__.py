"""Grading for fnn-course.

Two layers share one set of checks (``autograder.cases.tasks``):

* in-notebook checks (``autograder.checks``) give students immediate feedback and serve
  ``nbgrader validate`` / ``nbgrader autograde``;
* the hardened batch grader (``autograder.cli``, command ``fnn-grade``) runs untrusted student
  code in a sandbox and compares the returned arrays with the reference library in the parent.
"""
