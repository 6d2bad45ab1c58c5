"""Entry point inside the sandbox: ``main(["--template"])`` or ``main(["--sweep"])``.

The launcher starts ``python -I -S -c BOOT`` where ``BOOT`` (see :data:`BOOT`) puts the folder
holding this package first on ``sys.path`` and the folder holding only NumPy/SciPy last, then
calls :func:`main`.
"""
from __future__ import annotations

import sys

BOOT = ("import sys; sys.path.insert(0, {lib!r}); sys.path.append({site!r}); "
        "from inside.main import main; sys.exit(main(sys.argv[1:]))")
"""Bootstrap code run with ``python -I -S -c``; format with ``lib`` and ``site`` folders."""


def main(argv) -> int:
    """``--template``: a warm template (:mod:`.template`); else a one-job zygote
    (:mod:`.zygote`; ``--sweep`` where it owns a pid namespace)."""
    if "--template" in argv:
        from .template import template_main

        return template_main(argv)
    from .zygote import zygote_main

    return zygote_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
