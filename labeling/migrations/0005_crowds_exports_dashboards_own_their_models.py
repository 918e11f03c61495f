"""The crowd, export and audit models move to their own apps (crowds, exports, dashboards).

Only Django's picture of the models changes: the tables, their rows, indexes and constraints stay
where they are (the new apps keep the table names with ``Meta.db_table``). Each new app's
``0001_initial`` adds the models back to its own state and renames their content types, so
permissions and admin history follow them.
"""

from django.db import migrations

MOVED = [
    # Referencing models first, so the state never holds a dangling foreign key.
    "CrowdPayment",
    "CrowdAssignment",
    "PanelParticipant",
    "PanelConfig",
    "CrowdHIT",
    "CrowdPublication",
    "AuditSample",
    "AuditRun",
    "ExportJob",
]


class Migration(migrations.Migration):
    dependencies = [("labeling", "0004_audit_export")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name=name) for name in MOVED],
            database_operations=[],
        ),
    ]
