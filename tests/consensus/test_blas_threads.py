"""The consensus numerics run on one BLAS thread in every Django process (the app sets it up)."""

from threadpoolctl import threadpool_info


def test_every_blas_library_runs_on_one_thread_once_django_is_set_up():
    # numpy and scipy each load their own OpenBLAS; the worker's recompute uses both.
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert {lib["filepath"].rsplit("/", 1)[-1] for lib in blas} and len(blas) >= 2
    assert [lib["num_threads"] for lib in blas] == [1] * len(blas)
