"""Settings of the flag API bench server: the panel's own settings, plus a bare view to compare against."""

import warnings

from config.settings import *  # noqa: F403

ROOT_URLCONF = "flag_api_urls"
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"handlers": [], "level": "WARNING"}}
# A bench serves no static file and runs no collectstatic: whitenoise's warning about the missing folder is noise.
warnings.filterwarnings("ignore", message="No directory at")
