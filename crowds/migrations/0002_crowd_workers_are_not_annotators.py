"""Panel participants' and MTurk workers' accounts leave the ``annotators`` group: they label only
through their crowd's own flow (a panel link's quota and payments, MTurk's pending votes), never
through /label/ or the worker API."""

from django.conf import settings
from django.db import migrations
from django.db.models import Q


def crowd_accounts_leave_annotators(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    PanelParticipant = apps.get_model("crowds", "PanelParticipant")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    group = Group.objects.filter(name="annotators").first()
    if group is None:
        return
    crowd = User.objects.filter(
        Q(username__startswith="mturk:")
        | Q(pk__in=PanelParticipant.objects.values("user_id"))
    )
    group.user_set.remove(*crowd)


class Migration(migrations.Migration):
    dependencies = [
        ("crowds", "0001_initial"),
        ("labeling", "0001_annotators_group"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(crowd_accounts_leave_annotators, migrations.RunPython.noop),
    ]
