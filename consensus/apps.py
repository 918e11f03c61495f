from django.apps import AppConfig


class ConsensusConfig(AppConfig):
    name = "consensus"
    verbose_name = "Consensus"

    def ready(self) -> None:
        # labeling sits before consensus in the pipeline and must not import it: it announces
        # stored votes through its signal, and consensus answers with a debounced recompute.
        from labeling.signals import synset_votes_changed

        from .engine.threads import single_threaded_blas
        from .tasks import recompute_on_votes_changed

        # The recompute's numerics run faster on one BLAS thread (see engine.threads).
        single_threaded_blas()

        synset_votes_changed.connect(
            recompute_on_votes_changed, dispatch_uid="consensus.recompute_on_votes_changed"
        )
