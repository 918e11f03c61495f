"""crowds' models, moved here from labeling (labeling 0005) without touching the database.

The tables were created by labeling's 0003/0004 migrations and keep their names (``db_table``); this
migration only adds the models to crowds' state and renames their content types from ``labeling``
to ``crowds``, so permissions and admin history follow the models. A database created before the
move migrates forward with every row in place (tests/test_migrations.py).
"""

import django.core.validators
import django.db.models.deletion
import functools
import secrets
from django.conf import settings
from django.db import migrations, models


MODELS = ['crowdpublication', 'crowdhit', 'panelconfig', 'panelparticipant', 'crowdassignment', 'crowdpayment']


def content_types_from_labeling(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="labeling", model__in=MODELS).update(app_label="crowds")


def content_types_to_labeling(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="crowds", model__in=MODELS).update(app_label="labeling")


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
                    name='CrowdHIT',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('hit_id', models.CharField(max_length=64, unique=True)),
                        ('max_assignments', models.PositiveSmallIntegerField()),
                        ('reward_cents', models.PositiveIntegerField()),
                        ('status', models.CharField(choices=[('open', 'open'), ('expired', 'expired')], default='open', max_length=8)),
                        ('expires_at', models.DateTimeField(blank=True, null=True)),
                        ('assignments_submitted', models.PositiveSmallIntegerField(default=0)),
                        ('synced_at', models.DateTimeField(blank=True, null=True)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='labeling.project')),
                        ('synset', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='synsets.synset')),
                    ],
                    options={
                        'db_table': 'labeling_crowdhit',
                        'ordering': ['id'],
                    },
                ),
                migrations.CreateModel(
                    name='CrowdAssignment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('backend', models.CharField(choices=[('mturk', 'Mechanical Turk'), ('panel', 'panel')], max_length=8)),
                        ('external_assignment_id', models.CharField(blank=True, max_length=64)),
                        ('external_worker_id', models.CharField(blank=True, max_length=64)),
                        ('submit_origin', models.CharField(blank=True, max_length=64)),
                        ('state', models.CharField(choices=[('accepted', 'accepted (working)'), ('submitted', 'submitted, votes pending'), ('confirmed', 'confirmed by the platform'), ('mismatch', 'platform record differs: votes excluded'), ('unconfirmed', 'never confirmed: votes excluded')], default='accepted', max_length=12)),
                        ('payment', models.CharField(choices=[('none', 'not decided'), ('approved', 'approved'), ('rejected', 'rejected')], default='none', max_length=8)),
                        ('answer_digest', models.CharField(blank=True, max_length=64)),
                        ('gold_correct', models.PositiveSmallIntegerField(default=0)),
                        ('gold_total', models.PositiveSmallIntegerField(default=0)),
                        ('submitted_at', models.DateTimeField(blank=True, null=True)),
                        ('confirmed_at', models.DateTimeField(blank=True, null=True)),
                        ('paid_at', models.DateTimeField(blank=True, null=True)),
                        ('feedback', models.CharField(blank=True, max_length=1024)),
                        ('assignment', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='crowd', to='labeling.assignment')),
                        ('hit', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='assignments', to='crowds.crowdhit')),
                    ],
                    options={
                        'db_table': 'labeling_crowdassignment',
                        'ordering': ['id'],
                    },
                ),
                migrations.CreateModel(
                    name='CrowdPayment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('kind', models.CharField(choices=[('reward', 'reward'), ('bonus', 'bonus')], max_length=8)),
                        ('status', models.CharField(choices=[('pending', 'pending (to send)'), ('sent', 'sent'), ('payable', 'payable (panel upload)'), ('skipped', 'skipped (budget)')], default='pending', max_length=8)),
                        ('amount_cents', models.PositiveIntegerField()),
                        ('fee_cents', models.PositiveIntegerField(default=0)),
                        ('token', models.CharField(max_length=64, unique=True)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('crowd_assignment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='payments', to='crowds.crowdassignment')),
                    ],
                    options={
                        'db_table': 'labeling_crowdpayment',
                        'ordering': ['id'],
                    },
                ),
                migrations.CreateModel(
                    name='CrowdPublication',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('backend', models.CharField(default='mturk', max_length=8)),
                        ('status', models.CharField(choices=[('open', 'open'), ('closed', 'closed')], default='open', max_length=8)),
                        ('sandbox', models.BooleanField(default=True)),
                        ('endpoint_url', models.CharField(blank=True, max_length=300)),
                        ('hit_type_id', models.CharField(blank=True, max_length=64)),
                        ('title', models.CharField(max_length=128)),
                        ('description', models.CharField(max_length=2000)),
                        ('keywords', models.CharField(blank=True, max_length=1000)),
                        ('reward_cents', models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1)])),
                        ('bonus_cents', models.PositiveIntegerField(default=0, help_text='Bonus per approved assignment whose gold answers were all right.')),
                        ('assignments_per_hit', models.PositiveSmallIntegerField(default=9, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(9)])),
                        ('lifetime_seconds', models.PositiveIntegerField(default=604800)),
                        ('committed_cents', models.PositiveIntegerField(default=0, help_text='Most this publication can cost: counted against the budget.')),
                        ('closed_at', models.DateTimeField(blank=True, null=True)),
                        ('last_synced_at', models.DateTimeField(blank=True, null=True)),
                        ('last_error', models.TextField(blank=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='crowd_publications', to='labeling.project')),
                    ],
                    options={
                        'db_table': 'labeling_crowdpublication',
                        'ordering': ['-id'],
                    },
                ),
                migrations.AddField(
                    model_name='crowdhit',
                    name='publication',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='hits', to='crowds.crowdpublication'),
                ),
                migrations.CreateModel(
                    name='PanelConfig',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('token', models.CharField(default=functools.partial(secrets.token_urlsafe, *(16,), **{}), max_length=40, unique=True)),
                        ('active', models.BooleanField(default=True)),
                        ('participant_param', models.CharField(default='PROLIFIC_PID', max_length=40)),
                        ('extra_params', models.JSONField(blank=True, default=list, help_text='Other URL parameters kept per participant.')),
                        ('hits_per_participant', models.PositiveSmallIntegerField(default=5, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(500)])),
                        ('reward_cents_per_hit', models.PositiveIntegerField(default=5)),
                        ('fee_percent', models.PositiveSmallIntegerField(default=0, help_text="The panel's service fee on rewards, for cost accounting and the budget.", validators=[django.core.validators.MaxValueValidator(100)])),
                        ('completion_code', models.CharField(max_length=64)),
                        ('completion_url', models.URLField(blank=True, max_length=500)),
                        ('project', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='panel', to='labeling.project')),
                    ],
                    options={
                        'db_table': 'labeling_panelconfig',
                        'ordering': ['project_id'],
                    },
                ),
                migrations.CreateModel(
                    name='PanelParticipant',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('external_id', models.CharField(max_length=128)),
                        ('params', models.JSONField(blank=True, default=dict)),
                        ('hits_submitted', models.PositiveSmallIntegerField(default=0)),
                        ('completed_at', models.DateTimeField(blank=True, null=True)),
                        ('panel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='participants', to='crowds.panelconfig')),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='panel_participant', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'labeling_panelparticipant',
                        'ordering': ['id'],
                    },
                ),
                migrations.AddField(
                    model_name='crowdassignment',
                    name='participant',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='crowd_assignments', to='crowds.panelparticipant'),
                ),
                migrations.AddIndex(
                    model_name='crowdpublication',
                    index=models.Index(condition=models.Q(('status', 'open')), fields=['backend'], name='crowd_pub_open'),
                ),
                migrations.AddConstraint(
                    model_name='crowdpublication',
                    constraint=models.CheckConstraint(condition=models.Q(('assignments_per_hit__lte', 9)), name='crowd_publication_under_fee_step'),
                ),
                migrations.AddConstraint(
                    model_name='crowdhit',
                    constraint=models.CheckConstraint(condition=models.Q(('max_assignments__gte', 1), ('max_assignments__lte', 9)), name='crowd_hit_under_fee_step'),
                ),
                migrations.AddConstraint(
                    model_name='panelparticipant',
                    constraint=models.UniqueConstraint(fields=('panel', 'external_id'), name='panel_participant_once'),
                ),
                migrations.AddIndex(
                    model_name='crowdassignment',
                    index=models.Index(condition=models.Q(('state', 'submitted')), fields=['submitted_at'], name='crowd_pending'),
                ),
                migrations.AddConstraint(
                    model_name='crowdassignment',
                    constraint=models.UniqueConstraint(condition=models.Q(('external_assignment_id', ''), _negated=True), fields=('backend', 'external_assignment_id'), name='crowd_assignment_external_once'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_from_labeling, content_types_to_labeling),
    ]
