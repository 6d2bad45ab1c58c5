"""``python -m autograder``: the batch grader's command line (same as ``fnn-grade``)."""
import sys

from autograder.cli import main

sys.exit(main())
