"""BLAS threads of the engine's numerics.

The engine's linear algebra is small (a 5-parameter L-BFGS-B fit, 2 × 2 confusion rows), and
OpenBLAS's worker threads only add synchronisation to it: on two cores shared with the web
workers, PostgreSQL and the load of a busy project, each of scipy's BLAS calls waited for a
descheduled helper thread. Measured on a loaded 2-core machine (10,000 images × 10 votes):
fitting the Beta-binomial ceiling took 35–130 ms with OpenBLAS's default threads and 9–10 ms with
one; a whole ``decide_synset`` 0.56 s (0.44 s of CPU) against 0.32 s (0.27 s of CPU).
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def single_threaded_blas() -> None:
    """Run every BLAS library of this process on one thread from now on.

    numpy and scipy each bring their own OpenBLAS; a limit reaches only libraries already
    loaded, so both are loaded first.
    """
    import numpy  # noqa: F401
    import scipy.optimize  # noqa: F401

    threadpool_limits(limits=1, user_api="blas")
