"""The scheduler's open work and each worker's seen set become indexes (issue 16).

- ``item_open_work`` replaces ``item_scheduler_open``: it holds only images that can take one
  more lease (``votes_needed > active_leases``), in hand-out order, so a HIT reads O(HIT size)
  index entries whatever the project's size.
- ``AssignmentItem.worker`` copies the assignment's worker (filled from it here) and
  ``assignment_item_seen`` (worker, item) makes "was this image ever shown to W?" one probe.
- ``project_synset_by_accepted`` walks a project's synsets fewest accepted first.
"""

import django.db.models.deletion
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("labeling", "0006_project_membership"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="item",
            name="item_scheduler_open",
        ),
        migrations.AddField(
            model_name="assignmentitem",
            name="worker",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunSQL(
            "UPDATE labeling_assignmentitem AS ai SET worker_id = a.worker_id "
            "FROM labeling_assignment AS a WHERE a.id = ai.assignment_id",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="assignmentitem",
            name="worker",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="assignmentitem",
            index=models.Index(fields=["worker", "item"], name="assignment_item_seen"),
        ),
        migrations.AddIndex(
            model_name="item",
            index=models.Index(
                models.F("project"),
                models.F("synset"),
                models.OrderBy(models.F("is_seed"), descending=True),
                models.OrderBy(
                    django.db.models.expressions.CombinedExpression(
                        models.F("yes_votes"), "+", models.F("no_votes")
                    ),
                    descending=True,
                ),
                models.F("id"),
                condition=models.Q(
                    ("is_gold", False),
                    ("state", "pending"),
                    ("votes_needed__gt", models.F("active_leases")),
                ),
                name="item_open_work",
            ),
        ),
        migrations.AddIndex(
            model_name="projectsynset",
            index=models.Index(
                fields=["project", "accepted_count", "synset"], name="project_synset_by_accepted"
            ),
        ),
    ]
