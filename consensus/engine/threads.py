"""BLAS threads of the engine's numerics.

The engine's linear algebra is small (a 5-parameter L-BFGS-B fit, 2 × 2 confusion rows), and
OpenBLAS's worker threads only add synchronisation to it: on two cores shared with the web
workers, PostgreSQL and the load of a busy project, each of scipy's BLAS calls waited for a
descheduled helper thread. benchmarks/consensus_recompute.py with two busy loops on the cores
(10,000 images × 10 votes): ``decide_synset`` 0.32–0.47 s with OpenBLAS's own threads
(``--blas-threads default``), 0.28 s with one.
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
