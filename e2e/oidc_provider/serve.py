"""Run the test identity provider: ``python -m e2e.oidc_provider.serve CONFIG.json``.

The environment carries IDP_PORT, IDP_DB and IDP_RSA_KEY (see ``IdentityProvider``); the
JSON file lists the users (with their groups) and the client applications to create.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(config_path: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "e2e.oidc_provider.settings"
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    config = json.loads(Path(config_path).read_text())
    call_command("migrate", verbosity=0)
    for spec in config["users"]:
        user = User.objects.create_user(
            spec["username"],
            email=spec.get("email", ""),
            password=spec["password"],
            first_name=spec.get("first_name", ""),
            last_name=spec.get("last_name", ""),
        )
        for name in spec.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    for spec in config["clients"]:
        Application.objects.create(
            name=spec["client_id"],
            client_id=spec["client_id"],
            client_secret=spec["client_secret"],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(spec["redirect_uris"]),
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=True,
        )
    call_command(
        "runserver", f"127.0.0.1:{os.environ['IDP_PORT']}", use_reloader=False, skip_checks=True
    )


if __name__ == "__main__":
    main(sys.argv[1])
