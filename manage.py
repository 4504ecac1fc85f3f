#!/usr/bin/env python
"""Django's command-line utility for the BarTender Admin Panel."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A configuration mistake (no SECRET_KEY with DEBUG off, a bad DATABASE_URL, ...) is one clear line for
        # the person who made it, not a traceback.
        sys.exit(f"manage.py: configuration error: {exc}")


if __name__ == "__main__":
    main()
