"""Candidates may be refused as too large once decoded (the bytes of their pixels)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('candidates', '0002_collection_job_source_report'),
    ]

    operations = [
        migrations.AlterField(
            model_name='candidate',
            name='reject_reason',
            field=models.CharField(blank=True, choices=[('not_an_image', 'not an image'), ('empty', 'empty file'), ('corrupt', 'corrupt'), ('truncated', 'truncated'), ('too_small', 'too small'), ('too_many_pixels', 'too many pixels (decompression bomb)'), ('too_large_decoded', 'too large once decoded (bytes of its pixels)'), ('unsupported_format', 'unsupported format'), ('too_large', 'file too large'), ('timeout', 'download timed out'), ('blocked_address', 'blocked address'), ('bad_url', 'bad URL'), ('too_many_redirects', 'too many redirects'), ('http_error', 'HTTP error'), ('connection_error', 'connection error'), ('source_error', 'source error')], max_length=24),
        ),
    ]
