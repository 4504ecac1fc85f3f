from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo and development data (DESIGN §2): seeding the stand-in, the demo logins, the demo deployment. It sits
    above every app and may import any of them; nothing imports it but the project package and the tests."""

    name = "demo"
    verbose_name = "Demo data"
