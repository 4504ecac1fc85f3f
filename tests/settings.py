"""Settings for the test suite: the panel's own settings with a fixed test key and plain static files.

The panel refuses to start with DEBUG off and no SECRET_KEY (adminpanel/config.py); tests run with DEBUG off, so
they bring a key of their own. Static files are served unhashed, so no `collectstatic` is needed before a test
(tests/test_serving.py runs `collectstatic` with the production storage on its own).
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x7Qp2LmZ9rT4vB8nW1cY6hK3sD5fG0jA")

from config.settings import *  # noqa: E402, F403
from config.settings import STORAGES  # noqa: E402

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# whitenoise answers from the apps' static folders (no collectstatic output needed), as under DEBUG.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
