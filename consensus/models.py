"""What consensus keeps between recomputes of a synset (the votes and decisions themselves are
labeling's)."""

from __future__ import annotations

from django.db import models


class MixtureState(models.Model):
    """Where the last fit of a synset's worker model left its spammer/honest mixture.

    A typical recompute follows one new HIT: a few dozen votes on a synset of many thousands.
    Refitting it from cold starts walks EM through every iteration again; resuming from the
    stored posteriors and these responsibilities takes one start (``consensus.recompute``). A
    cold fit, with several starts, is due again once the synset has ``RESUME_GROWTH`` times the
    votes of the last one (and whenever this row is missing: it is derived state, never backed
    up, and deleting it is always safe).
    """

    project_synset = models.OneToOneField(
        "labeling.ProjectSynset", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    workers = models.JSONField(default=list)  # worker ids …
    honest = models.JSONField(default=list)  # … and each one's responsibility of being honest
    honest_share = models.FloatField()
    cold_votes = models.PositiveIntegerField()  # votes counted by the last cold fit
    # The model the last cold fit chose by held-out likelihood ("workers" or "exchangeable"):
    # a resumed fit keeps the workers model without weighing the other again.
    model = models.CharField(max_length=16, default="workers")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"mixture of {self.project_synset_id}"
