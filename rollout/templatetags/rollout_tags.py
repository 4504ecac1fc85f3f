"""Small template filters of the rollout pages."""

from django import template

from rollout.backups import human_size

register = template.Library()


@register.filter
def file_size(size) -> str:
    """Bytes as a size a person reads (12.3 MB)."""
    try:
        return human_size(int(size))
    except (TypeError, ValueError):
        return "—"
