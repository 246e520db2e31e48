#!/usr/bin/env python
"""Django's command-line utility for Colorarchive's portal."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if sys.argv[1:2] == [
        "demo"
    ]:  # the local trial asks for the embedded setup (settings default to production)
        os.environ.setdefault("DJANGO_DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
