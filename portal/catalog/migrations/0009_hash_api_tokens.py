"""API tokens are stored as their SHA-256 (portal/tokens.py `digest`): hash the tokens issued before, so that
their holders keep using them. One way: the tokens cannot be recovered from the database afterwards."""

import hashlib

from django.db import migrations


def hash_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    for key in list(Token.objects.values_list("key", flat=True)):
        Token.objects.filter(key=key).update(key=hashlib.sha256(key.encode()).hexdigest()[:40])


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_unaccented_search"), ("authtoken", "0004_alter_tokenproxy_options")]
    operations = [migrations.RunPython(hash_tokens, migrations.RunPython.noop, elidable=True)]
