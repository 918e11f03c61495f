"""The named interface through which labeling calls back into later pipeline stages.

labeling imports nothing downstream of itself. When votes that count are stored (a built-in
submission, a panel HIT, an MTurk confirmation), it sends ``synset_votes_changed`` after the
commit; consensus connects its recompute to it in ``ConsensusConfig.ready``. A receiver that
fails is logged, never raised: the votes are already committed, and the periodic recompute
sweep catches up on any synset whose ``needs_recompute`` flag is left set.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent after a commit that stored counted votes of one synset of one project.
# Keyword argument: ``project_synset_id``.
synset_votes_changed = Signal()


def synset_votes_changed_send(project_synset_id: int) -> None:
    """Send ``synset_votes_changed`` now; a failing receiver is logged, not raised."""
    for receiver, result in synset_votes_changed.send_robust(
        sender=None, project_synset_id=project_synset_id
    ):
        if isinstance(result, Exception):
            logger.error(
                "synset_votes_changed receiver %r failed for synset %s",
                receiver, project_synset_id, exc_info=result,
            )  # fmt: skip


def synset_votes_changed_on_commit(
    *, project_id: int, synset_id: str, project_synset_id: int | None = None
) -> None:
    """Announce, once the current transaction commits, that a synset's counted votes changed.
    ``project_synset_id``: the synset's row in the project, when the caller has read it."""
    from .models import ProjectSynset

    if project_synset_id is None:
        project_synset_id = (
            ProjectSynset.objects.filter(project_id=project_id, synset_id=synset_id)
            .values_list("pk", flat=True)
            .first()
        )
    if project_synset_id is not None:
        transaction.on_commit(partial(synset_votes_changed_send, project_synset_id))
