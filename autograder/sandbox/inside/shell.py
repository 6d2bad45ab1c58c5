"""A stand-in for IPython's shell, for cells whose magics the grader has transformed.

The trusted parent turns IPython syntax into plain Python with IPython's own input
transformer: ``%timeit f(x)`` becomes ``get_ipython().run_line_magic('timeit', 'f(x)')``,
a ``%%time`` cell becomes ``get_ipython().run_cell_magic('time', '', body)``, ``!ls`` becomes
``get_ipython().system('ls')``. Each test process puts :func:`get_ipython` in the cells'
namespace, so that:

* the timing magics (line ``time``/``timeit``, cell ``time``/``timeit``/``capture``) run
  their statement or body once, in the namespace of the cell that called them (``x = %time
  f(y)`` gets the value, as in IPython), without timing anything;
* every other magic, ``system`` and ``getoutput`` (shell commands) do nothing and return
  None (``getoutput``: an empty list).
"""
from __future__ import annotations

import sys

RUN_LINE = ("time", "timeit")
"""Line magics whose statement is executed."""

RUN_CELL = ("time", "timeit", "capture")
"""Cell magics whose body is executed."""


class Shell:
    """What ``get_ipython()`` returns inside the sandbox."""

    def run_line_magic(self, name, line):
        """Run ``line`` in the caller's namespace for ``%time``/``%timeit``; else nothing."""
        if str(name) not in RUN_LINE:
            return None
        caller = sys._getframe(1)
        try:
            code = compile(str(line), "<magic>", "eval")
        except SyntaxError:
            exec(compile(str(line), "<magic>", "exec"), caller.f_globals, caller.f_locals)
            return None
        return eval(code, caller.f_globals, caller.f_locals)

    def run_cell_magic(self, name, line, cell):
        """Run the cell body in the caller's namespace for the timing and capture magics."""
        if str(name) in RUN_CELL:
            caller = sys._getframe(1)
            exec(compile(str(cell), "<cell magic>", "exec"), caller.f_globals, caller.f_locals)
        return None

    def system(self, cmd):
        """Shell commands do nothing in the sandbox."""
        return None

    def getoutput(self, cmd, split=True, depth=0):
        """``x = !cmd`` gets an empty list."""
        return []

    def magic(self, line):
        """The old spelling ``get_ipython().magic('name args')``."""
        name, _, rest = str(line).lstrip("%").partition(" ")
        caller = sys._getframe(1)
        if name in RUN_LINE:
            exec(compile(rest, "<magic>", "exec"), caller.f_globals, caller.f_locals)
        return None


_SHELL = Shell()


def get_ipython() -> Shell:
    """The shell stand-in (one per process)."""
    return _SHELL
