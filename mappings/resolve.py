"""Server-name normalisation (and, with the mappings issue, resolution of a typed name to a user)."""

import re
import unicodedata

MAX_SERVER_NAME_LENGTH = 100
_WHITESPACE = re.compile(r"\s+")


def normalize_server_name(name: str) -> str:
    """Trim, collapse inner whitespace, Unicode NFKC, case-fold: the key mappings are unique on."""
    text = unicodedata.normalize("NFKC", name or "")
    text = _WHITESPACE.sub(" ", text).strip()
    return text.casefold()
