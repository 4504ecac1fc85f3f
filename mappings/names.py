"""Server names as the POS types them: the normal form mappings are unique on, and what makes a name
unusable. Plain functions with no database access, so the models, the resolver and the forms share them."""

import functools
import re
import unicodedata

from confusable_homoglyphs.confusables import confusables_data

from adminpanel.bad_input import control_character_in, describe_character

MAX_SERVER_NAME_LENGTH = 100
_WHITESPACE = re.compile(r"\s+")
# Unicode's Default_Ignorable_Code_Point set (DerivedCoreProperties.txt), which holds every bidi control (U+061C,
# U+200E/F, U+202A–E, U+2066–9): characters that show nothing, so "Ma\u200brie" or "\u202eeiraM" would look like
# a name already mapped while being another. They are removed before anything else looks at a name.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)

# Members a name may be mapped to (and resolve to): active servers and managers of the bar.
ELIGIBLE_ROLES = ("server", "manager")


def strip_invisible(text: str) -> str:
    """The text without default-ignorable and bidi control characters (zero-width spaces, direction overrides)."""
    return _INVISIBLE.sub("", text)


def normalize_server_name(name: str) -> str:
    """Drop invisible characters, Unicode NFKC, collapse and trim whitespace, case-fold: the key mappings are
    unique on."""
    text = unicodedata.normalize("NFKC", strip_invisible(name or ""))
    text = _WHITESPACE.sub(" ", strip_invisible(text)).strip()
    return text.casefold()


def display_server_name(name: str) -> str:
    """The name as a person typed it, without invisible characters, outer whitespace and inner runs of it."""
    return _WHITESPACE.sub(" ", strip_invisible(name or "")).strip()


def server_name_problem(key: str) -> str | None:
    """Why a normalised name cannot be a mapping's name, or None when it can."""
    if not key:
        return "A server name is required."
    if len(key) > MAX_SERVER_NAME_LENGTH:
        return f"A server name has at most {MAX_SERVER_NAME_LENGTH} characters (this one has {len(key)})."
    control = control_character_in(key)
    if control is not None:
        return f"A server name cannot contain control characters ({describe_character(control)})."
    return None


# --- Look-alike names (Unicode TR39 "confusable" skeletons) ---------------------------------------------------


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each confusable character → the prototype of its class, from Unicode's confusables.txt as the maintained
    `confusable-homoglyphs` package ships it (pairs listed both ways). A class is one prototype and the
    characters that look like it, so its members are found by joining the pairs; the prototype is the class's
    one multi-character sequence when it has one ("m" looks like "rn"), else any fixed member (skeletons are
    only compared with each other)."""
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for key, entries in confusables_data.items():
        for entry in entries:
            # The package wraps right-to-left characters in U+200E marks for display.
            first, second = find(key.replace("\u200e", "")), find(entry["c"].replace("\u200e", ""))
            if first != second:
                parent[second] = first
    classes: dict[str, list[str]] = {}
    for item in list(parent):
        classes.setdefault(find(item), []).append(item)
    table = {}
    for members in classes.values():
        sequences = [member for member in members if len(member) > 1]
        prototype = min(sequences or members, key=lambda member: (len(member), not member.isascii(), member))
        table.update({member: prototype for member in members if len(member) == 1 and member != prototype})
    return table


@functools.lru_cache(maxsize=50_000)
def name_skeleton(key: str) -> str:
    """What a normalised name looks like (TR39 skeleton: NFD, each character replaced by its prototype, NFD):
    "marіe" with a Cyrillic і and "marie" share one, so the second would pass for the first on a screen."""
    table = _prototypes()
    mapped = "".join(table.get(char, char) for char in unicodedata.normalize("NFD", key))
    return unicodedata.normalize("NFD", mapped)
