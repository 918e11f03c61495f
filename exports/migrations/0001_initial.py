"""exports' models, moved here from labeling (labeling 0005) without touching the database.

The tables were created by labeling's 0003/0004 migrations and keep their names (``db_table``); this
migration only adds the models to exports' state and renames their content types from ``labeling``
to ``exports``, so permissions and admin history follow the models. A database created before the
move migrates forward with every row in place (tests/test_migrations.py).
"""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MODELS = ['exportjob']


def content_types_from_labeling(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="labeling", model__in=MODELS).update(app_label="exports")


def content_types_to_labeling(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="exports", model__in=MODELS).update(app_label="labeling")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('labeling', '0005_crowds_exports_dashboards_own_their_models'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ExportJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('format', models.CharField(choices=[('imagenet', 'ImageNet folders (ImageFolder)'), ('webdataset', 'WebDataset tar shards')], default='imagenet', max_length=12)),
                        ('val_fraction', models.FloatField(default=0.0, validators=[django.core.validators.MinValueValidator(0.0), django.core.validators.MaxValueValidator(0.9)])),
                        ('seed', models.CharField(default='0', max_length=64)),
                        ('status', models.CharField(choices=[('pending', 'pending'), ('running', 'running'), ('done', 'done'), ('failed', 'failed')], default='pending', max_length=8)),
                        ('classes_total', models.PositiveIntegerField(default=0)),
                        ('classes_done', models.PositiveIntegerField(default=0)),
                        ('images_done', models.PositiveIntegerField(default=0)),
                        ('summary', models.JSONField(blank=True, default=dict)),
                        ('error', models.TextField(blank=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='export_jobs', to='labeling.project')),
                    ],
                    options={
                        'db_table': 'labeling_exportjob',
                        'ordering': ['-id'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('val_fraction__gte', 0), ('val_fraction__lt', 1)), name='export_job_val_fraction')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_from_labeling, content_types_to_labeling),
    ]
