"""Server names as the POS types them: the normal form mappings are unique on, and what makes a name
unusable. Plain functions with no database access, so the models, the resolver and the forms share them."""

import re
import unicodedata

MAX_SERVER_NAME_LENGTH = 100
_WHITESPACE = re.compile(r"\s+")

# Members a name may be mapped to (and resolve to): active servers and managers of the bar.
ELIGIBLE_ROLES = ("server", "manager")


def normalize_server_name(name: str) -> str:
    """Trim, collapse inner whitespace, Unicode NFKC, case-fold: the key mappings are unique on."""
    text = unicodedata.normalize("NFKC", name or "")
    text = _WHITESPACE.sub(" ", text).strip()
    return text.casefold()


def display_server_name(name: str) -> str:
    """The name as a person typed it, with outer whitespace trimmed and inner runs collapsed."""
    return _WHITESPACE.sub(" ", name or "").strip()


def server_name_problem(key: str) -> str | None:
    """Why a normalised name cannot be a mapping's name, or None when it can."""
    if not key:
        return "A server name is required."
    if len(key) > MAX_SERVER_NAME_LENGTH:
        return f"A server name has at most {MAX_SERVER_NAME_LENGTH} characters (this one has {len(key)})."
    return None
