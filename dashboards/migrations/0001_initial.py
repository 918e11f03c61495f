"""dashboards' models, moved here from labeling (labeling 0005) without touching the database.

The tables were created by labeling's 0003/0004 migrations and keep their names (``db_table``); this
migration only adds the models to dashboards' state and renames their content types from ``labeling``
to ``dashboards``, so permissions and admin history follow the models. A database created before the
move migrates forward with every row in place (tests/test_migrations.py).
"""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MODELS = ['auditrun', 'auditsample']


def content_types_from_labeling(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="labeling", model__in=MODELS).update(app_label="dashboards")


def content_types_to_labeling(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="dashboards", model__in=MODELS).update(app_label="labeling")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('labeling', '0005_crowds_exports_dashboards_own_their_models'),
        ('synsets', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('seed', models.CharField(default='0', max_length=64)),
                        ('synsets_per_depth', models.PositiveIntegerField(default=80, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10000)])),
                        ('images_per_synset', models.PositiveIntegerField(default=10, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(1000)])),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='audit_runs', to='labeling.project')),
                    ],
                    options={
                        'db_table': 'labeling_auditrun',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='AuditSample',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('depth', models.PositiveSmallIntegerField()),
                        ('correct', models.BooleanField(blank=True, null=True)),
                        ('reviewed_at', models.DateTimeField(blank=True, null=True)),
                        ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='labeling.item')),
                        ('reviewer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='samples', to='dashboards.auditrun')),
                        ('synset', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='synsets.synset')),
                    ],
                    options={
                        'db_table': 'labeling_auditsample',
                        'ordering': ['run_id', 'synset_id', 'id'],
                        'indexes': [models.Index(condition=models.Q(('correct__isnull', True)), fields=['run', 'synset', 'id'], name='audit_sample_open')],
                        'constraints': [models.UniqueConstraint(fields=('run', 'item'), name='audit_sample_item_once'), models.CheckConstraint(condition=models.Q(('correct__isnull', True), ('reviewed_at__isnull', False), _connector='OR'), name='audit_sample_verdict_has_time')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_from_labeling, content_types_to_labeling),
    ]
