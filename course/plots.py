"""The plotting helpers live in :mod:`course.widgets.plots`; ``course.plots`` is the same module
under its older, shorter name (``from course import plots`` keeps working in notebooks)."""

import sys

from course.widgets import plots as _plots

sys.modules[__name__] = _plots
