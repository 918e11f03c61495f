"""Projects say whether every annotator may label them; invites record membership.

Projects that exist already stay open to all annotators (that was their behaviour); new ones
are open only to invited annotators unless their owner opens them."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0005_crowds_exports_dashboards_own_their_models'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='project',
            name='open_to_all_annotators',
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name='project',
            name='open_to_all_annotators',
            field=models.BooleanField(default=False, help_text='Every annotator may label this project (otherwise only invited ones).'),
        ),
        migrations.CreateModel(
            name='ProjectMember',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(choices=[('invite', 'invite link'), ('owner', 'added by an owner')], default='invite', max_length=8)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='members', to='labeling.project')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='labeling_memberships', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['project_id', 'user_id'],
                'constraints': [models.UniqueConstraint(fields=('project', 'user'), name='project_member_once')],
            },
        ),
    ]
