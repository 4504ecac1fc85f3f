"""Bad input from a request is a 400 with a clear message, never a 500 (issue 10).

A view (or anything it calls) raises `BadInput` with a sentence meant for the person who sent the request; the
root URLconf's ``handler400`` renders it inside the layout with a way back. Text that PostgreSQL cannot store
or search (a NUL byte) is refused here, before it reaches a query.
"""

import unicodedata

from django.core.exceptions import BadRequest
from django.shortcuts import render
from django.views.decorators.csrf import requires_csrf_token

# Tab, line feed and carriage return are ordinary whitespace in typed text; every other C0/C1 control is not.
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


class BadInput(BadRequest):
    """A request whose input cannot be used; the message says which and why (shown on the 400 page)."""


def control_character_in(text: str) -> str | None:
    """The first control character (category Cc) of `text` other than tab and line breaks, or None."""
    for char in text:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            return char
    return None


def describe_character(char: str) -> str:
    """U+0000 (NUL), U+202E (RIGHT-TO-LEFT OVERRIDE): a character named so a person can find it."""
    name = "NUL" if char == "\x00" else unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def text_param(params, name: str, default: str = "", *, label: str | None = None) -> str:
    """The parameter `name` of a QueryDict as text; `BadInput` when it holds a control character such as NUL."""
    value = params.get(name, default)
    bad = control_character_in(value)
    if bad is not None:
        raise BadInput(f"{label or name.capitalize()} cannot contain control characters ({describe_character(bad)}).")
    return value


@requires_csrf_token
def bad_request(request, exception=None):
    """``handler400``: the message of a `BadInput` in the layout; a generic sentence for anything else."""
    message = str(exception) if isinstance(exception, BadInput) and str(exception) else ""
    template = "_bad_request.html" if getattr(request, "htmx", False) else "400.html"
    return render(request, template, {"message": message}, status=400)
