"""`python manage.py setup_archive`: the first run of a production install (and safe to run again).

Applies the migrations, creates the role groups (staff, admins), creates the first accounts and registers the
models installed with the library. Passwords are asked for and checked by the password validators; with
--noinput the accounts get no usable password and `manage.py changepassword NAME` sets one later.
"""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from portal.catalog.permissions import ADMIN_GROUP, STAFF_GROUP


class Command(BaseCommand):
    help = "First run of a production install: migrations, role groups, first accounts, installed models."

    def add_arguments(self, parser):
        parser.add_argument("--admin", action="append", default=[], metavar="USERNAME",
                            help="An administrator account to create (may repeat); also reaches /admin/.")  # fmt: skip
        parser.add_argument("--staff", action="append", default=[], metavar="USERNAME",
                            help="A museum staff account to create (may repeat).")  # fmt: skip
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive",
                            help="Ask nothing: new accounts get no usable password (set one with changepassword).")  # fmt: skip
        parser.add_argument("--no-models", action="store_true", help="Do not register the installed models.")

    def handle(
        self, *args, admin: list[str], staff: list[str], interactive: bool, no_models: bool, **options
    ):
        call_command("migrate", interactive=False, verbosity=0)
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in (STAFF_GROUP, ADMIN_GROUP)}
        self.stdout.write(
            f"Groups: {STAFF_GROUP} (catalogue, colorize), {ADMIN_GROUP} (also train, promote)."
        )
        for username in admin:
            self._account(username, groups[ADMIN_GROUP], superuser=True, interactive=interactive)
        for username in staff:
            self._account(username, groups[STAFF_GROUP], superuser=False, interactive=interactive)
        if not no_models:
            from portal.jobs.installed import register_installed_models

            register_installed_models(self.stdout, self.style)

    def _account(self, username: str, group: Group, *, superuser: bool, interactive: bool) -> None:
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None:
            user.groups.add(group)
            self.stdout.write(f"{username}: exists; in group {group.name}.")
            return
        user = User(username=username, is_staff=superuser, is_superuser=superuser)
        if interactive:
            user.set_password(self._ask_password(user))
        else:
            user.set_unusable_password()
        user.save()
        user.groups.add(group)
        note = "" if interactive else f"; no password yet: python manage.py changepassword {username}"
        self.stdout.write(self.style.SUCCESS(f"{username}: created in group {group.name}{note}."))

    def _ask_password(self, user) -> str:
        for _ in range(3):
            password = getpass.getpass(f"Password for {user.username}: ")
            if password != getpass.getpass("Again: "):
                self.stderr.write("The two passwords differ.")
                continue
            try:
                validate_password(password, user)
            except ValidationError as exc:
                self.stderr.write(" ".join(exc.messages))
                continue
            return password
        raise CommandError(f"no acceptable password for {user.username}; nothing was created for it")
