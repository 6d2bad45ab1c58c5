"""The wire codec under its former name (the trusted side's older imports).

The code that runs inside the sandbox lives in :mod:`autograder.sandbox.inside`: the frame
codec in :mod:`~autograder.sandbox.inside.wire`, the zygote in ``zygote``, the warm template in
``template``, the system-call filter in ``seccomp``. New code imports ``inside.wire``.
"""
from autograder.sandbox.inside.wire import (MAX_ARRAYS, MAX_DEPTH, MAX_JSON,  # noqa: F401
                                            Unsupported, WireError, decode_value,
                                            encode_value, frame, read_exact, write_all)
