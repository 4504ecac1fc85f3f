"""Template helpers of the mappings pages."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def member_options(members, selected="", *, with_role=False):
    """The <option>s of a member select (`selectors.Member`s), `selected` pre-selected.

    Joined from markup each member escapes once, rather than a template loop: the unmapped-names page has a
    select per row, and a hundred rows of forty members was most of that page's rendering time.
    """
    selected = str(selected or "")
    blank = format_html('<option value=""{}>— choose a member —</option>', "" if selected else " selected")
    return mark_safe(blank + "".join(m.options[(with_role, m.user_id == selected)] for m in members))  # noqa: S308


# A bar with more eligible members than this offers a search-as-you-type picker instead of a select.
MEMBER_PICKER_FROM = 25


@register.simple_tag
def uses_member_picker(members) -> bool:
    return len(members) > MEMBER_PICKER_FROM


@register.simple_tag
def member_value(members, value="") -> str:
    """What a member picker shows for `value`: the member's label when it is a member's id, else the text."""
    value = str(value or "")
    for member in members:
        if member.user_id == value:
            return member.label
    return value
