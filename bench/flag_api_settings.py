"""Settings of the flag API bench server: the panel's own settings, plus a bare view to compare against."""

from adminpanel.settings import *  # noqa: F403

ROOT_URLCONF = "flag_api_urls"
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"handlers": [], "level": "WARNING"}}
