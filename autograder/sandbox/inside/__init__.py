"""The code that runs inside the sandbox (standard library + NumPy only).

The sandbox runs these modules with ``python -I -S``, this folder bound read-only as the
top-level package ``inside`` (see ``autograder.sandbox.launcher``); they import each other
relatively and never import ``course`` or ``autograder``. The trusted side imports
:mod:`.wire` (the frame codec both sides share) as ``autograder.sandbox.inside.wire``.

* :mod:`.wire` -- frames and the value codec (never unpickles, raises only ``WireError``);
* :mod:`.zygote` -- the submission's zygote and its test children (the per-case protocol);
* :mod:`.template` -- the warm template: namespaces, capabilities, one fresh sandbox per job;
* :mod:`.seccomp` -- the system-call filter installed before any student code runs;
* :mod:`.shell` -- the ``get_ipython()`` stand-in that transformed IPython magics call;
* :mod:`.main` -- the entry point (``--template`` or ``--sweep``).
"""
