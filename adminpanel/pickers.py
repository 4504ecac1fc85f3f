"""Pick a bar or a user by name (issue 14): the search-as-you-type lists and the resolvers every filter, form
and import uses, so a person types "Test Bar 1" or "Marie Dupont" and never pastes a UUID.

What a requester may find is what they may see: support staff, product owners and superusers see every bar and
every user; a bar manager sees only the bars they manage and the members of those bars; anyone else sees
nothing. A UUID still works everywhere a name does.

The picker is a plain text field with a ``<datalist>`` htmx fills as the person types (``/pick/bars/?q=``,
``/pick/users/?q=``); without JavaScript it stays a text field, and the server resolves whatever was typed:
an exact name (case-insensitive; accents may be left out), a picker label ("Test Bar 1 (id 1a2b3c4d)",
"Marie Dupont (mdupont)") or an id. An ambiguous name is an error listing the candidates; nothing is guessed.
"""

import re
import unicodedata
import uuid
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.forms import CharField, TextInput
from django.urls import reverse
from django.utils.html import format_html

from adminpanel.models import AuthUser, Bar, BarMember
from adminpanel.models.bartender import active_user_q
from adminpanel.roles import can_read_all, managed_bars

PICK_LIMIT = 20
# Candidates an ambiguity error lists at most (the rest are counted).
CANDIDATES_SHOWN = 8
# Accented letters folded to their base letter on both sides of a comparison (Latin-1 plus common Latin
# Extended-A); PostgreSQL's unaccent extension is not assumed.
_LOWER_ACCENTED = "àáâãäåāăąçćčďèéêëēėęěìíîïīįıñńňòóôõöøōőŕřśšşťţùúûüūůűųýÿźżž"
_LOWER_PLAIN = "aaaaaaaaacccdeeeeeeeeiiiiiiinnnoooooooorrsssttuuuuuuuuyyzzz"
# Upper-case letters too: lower() of a non-ASCII letter depends on the database's LC_CTYPE (a "C" cluster keeps É).
_ACCENTED = _LOWER_ACCENTED + _LOWER_ACCENTED.replace("ı", "I").upper()
_PLAIN = _LOWER_PLAIN + _LOWER_PLAIN.upper()
_FOLD = str.maketrans(_ACCENTED, _PLAIN)
_BAR_LABEL = re.compile(r"^(?P<name>.*\S)\s+\(id (?P<prefix>[0-9a-f]{8})\b[^()]*\)$", re.IGNORECASE)
_USER_LABEL = re.compile(r"^(?P<name>.*\S)\s+\((?P<username>[^()\s]+)\)$")


class NameProblem(ValueError):
    """A typed name that does not pick exactly one thing; the message says why and lists the candidates."""

    def __init__(self, message: str, candidates=()):
        super().__init__(message)
        self.candidates = list(candidates)


def fold(text: str) -> str:
    """Lower case without accents ("Zoé" → "zoe"), the key a typed name is compared on."""
    return unicodedata.normalize("NFC", text or "").translate(_FOLD).lower()


def _variants() -> dict[str, str]:
    """Each plain lower-case letter → every spelling a name may hold for it, both cases ("e" → "eEèéê…ÈÉÊ…")."""
    variants: dict[str, str] = {}
    for accented, plain in zip(_ACCENTED, _PLAIN, strict=True):
        variants.setdefault(plain.lower(), plain.lower() + plain.upper())
        variants[plain.lower()] += accented
    return variants


_VARIANTS = _variants()


def accent_pattern(query: str) -> str:
    """A PostgreSQL regular expression that matches `query` whatever the accents and case of the stored text
    ("zoe" matches "Zoé", "ZOÉ"); the letters are spelled out, so it needs neither the unaccent extension nor a
    case-folding locale, and it costs a regex test per row rather than a translate() of every row (3.4 s → see
    the README figure for 60,000 users)."""
    parts = []
    for char in fold(query):
        if char in _VARIANTS:
            parts.append(f"[{_VARIANTS[char]}]")
        elif char.isalpha() and char.upper() != char:
            parts.append(f"[{char}{char.upper()}]")
        elif char.isalnum():
            parts.append(char)
        else:
            parts.append("\\" + char)  # a backslash before a non-alphanumeric character is that character
    return "".join(parts)


def _matches(fields, query: str, *, anchored: str = "") -> Q:
    """Rows whose `fields` contain (``anchored="^"``: start with; ``"^$"``: equal) the query, accents and case
    ignored."""
    pattern = accent_pattern(query)
    if anchored == "^$":
        pattern = f"^{pattern}$"
    elif anchored == "^":
        pattern = f"^{pattern}"
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__regex": pattern})
    return condition


def _as_uuid(text: str):
    try:
        return uuid.UUID(text.strip())
    except (ValueError, AttributeError):
        return None


# --- who sees what ---------------------------------------------------------------------------------------------


def bars_visible_to(user):
    """Bars the user may pick: every bar for support, product and superusers; a manager's own bars; else none."""
    if not getattr(user, "is_authenticated", False):
        return Bar.objects.none()
    if can_read_all(user):
        return Bar.objects.all()
    return managed_bars(user)


def users_visible_to(user, *, bar=None, roles=None, active_only=False):
    """Users the user may pick: everyone for support, product and superusers; the members of the bars a manager
    manages; else none. ``bar`` narrows to that bar's members (when the requester may see the bar), ``roles`` to
    those membership roles, ``active_only`` to active memberships of active accounts."""
    if not getattr(user, "is_authenticated", False):
        return AuthUser.objects.none()
    memberships = BarMember.objects.all()
    if bar is not None:
        if not bars_visible_to(user).filter(pk=bar.pk).exists():
            return AuthUser.objects.none()
        memberships = memberships.filter(bar=bar)
    elif not can_read_all(user):
        memberships = memberships.filter(bar__in=managed_bars(user))
    if roles:
        memberships = memberships.filter(role__in=roles)
    if active_only:
        memberships = memberships.filter(active_user_q("user__"), is_active=True)
    if bar is None and not roles and not active_only and can_read_all(user):
        return AuthUser.objects.named()
    # A manager's (or one bar's) members are few: their ids first, then an index lookup by primary key, rather
    # than a regex over every user joined to a permission subquery (239 → see the README figure).
    return AuthUser.objects.named().filter(pk__in=set(memberships.values_list("user_id", flat=True)))


# --- labels ----------------------------------------------------------------------------------------------------


def bar_hint(bar) -> str:
    """What tells two bars of one name apart: the start of the id, and the city when the bar has one."""
    city = (bar.settings or {}).get("city") if isinstance(bar.settings, dict) else None
    return f"id {str(bar.pk)[:8]}" + (f", {city}" if city else "")


def bar_label(bar, *, ambiguous: bool = False) -> str:
    return f"{bar.name} ({bar_hint(bar)})" if ambiguous else bar.name


def user_label(user) -> str:
    """ "Marie Dupont (mdupont)": the name managers use and the login that makes it unique."""
    if user.display_name and user.display_name != user.username:
        return f"{user.display_name} ({user.username})"
    return user.username


def _candidates_text(labels: list[str], total: int) -> str:
    shown = "; ".join(labels[:CANDIDATES_SHOWN])
    more = total - min(total, CANDIDATES_SHOWN)
    return shown + (f"; and {more} more" if more > 0 else "")


# --- search ----------------------------------------------------------------------------------------------------


def search_bars(user, query: str, *, limit: int = PICK_LIMIT):
    """(labels, more): up to `limit` bars the user may see whose name contains the query (accents and case
    ignored), names starting with it first; a label carries the id hint when two visible bars share the name."""
    bars = bars_visible_to(user)
    key = fold(query.strip())
    if key:
        bars = bars.filter(_matches(["name"], key))
        bars = bars.annotate(starts=_matches(["name"], key, anchored="^")).order_by("-starts", "name", "pk")
    else:
        bars = bars.order_by("name", "pk")
    found = list(bars[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    names = {bar.name for bar in found}
    shared = set(
        bars_visible_to(user)
        .filter(name__in=names)
        .values("name")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("name", flat=True)
    )
    return [(bar, bar_label(bar, ambiguous=bar.name in shared)) for bar in found], more


def search_users(user, query: str, *, bar=None, roles=None, active_only=False, limit: int = PICK_LIMIT):
    """(users with labels, more): up to `limit` users the requester may see whose display name or username
    contains the query (accents and case ignored)."""
    users = users_visible_to(user, bar=bar, roles=roles, active_only=active_only)
    key = fold(query.strip())
    if key:
        users = users.filter(_matches(["full_name", "login"], key))
        users = users.annotate(starts=_matches(["full_name", "login"], key, anchored="^"))
        users = users.order_by("-starts", "full_name", "login")
    else:
        users = users.order_by("full_name", "login")
    found = list(users[: limit + 1])
    return [(u, user_label(u)) for u in found[:limit]], len(found) > limit


# --- resolve a typed name --------------------------------------------------------------------------------------


def resolve_bar(user, text: str, *, what: str = "bar"):
    """The one bar `text` names among those the user may see (a name, a picker label or an id), None for an
    empty text; `NameProblem` when it names none or several (the message lists the candidates)."""
    text = (text or "").strip()
    if not text:
        return None
    visible = bars_visible_to(user)
    as_id = _as_uuid(text)
    if as_id is not None:
        bar = visible.filter(pk=as_id).first()
        if bar is None:
            raise NameProblem(f"No {what} you may see has the id {as_id}.")
        return bar
    labelled = _BAR_LABEL.match(text)
    if labelled:
        matches = [
            b for b in visible.filter(name__iexact=labelled["name"]) if str(b.pk).startswith(labelled["prefix"].lower())
        ]
        if len(matches) == 1:
            return matches[0]
    matches = list(visible.filter(name__iexact=text).order_by("name", "pk")[: CANDIDATES_SHOWN + 50])
    if not matches:
        matches = list(visible.filter(_matches(["name"], text, anchored="^$")).order_by("name", "pk")[:58])
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        total = visible.filter(name__iexact=matches[0].name).count()
        labels = [bar_label(b, ambiguous=True) for b in matches]
        raise NameProblem(
            f"{len(matches) if total <= len(matches) else total} bars are called “{text}”: "
            f"{_candidates_text(labels, total)}. Pick one from the list, or type its label with the id.",
            candidates=matches,
        )
    suggestions, _ = search_bars(user, text, limit=5)
    hint = f" Did you mean: {', '.join(label for _, label in suggestions)}?" if suggestions else ""
    raise NameProblem(f"No {what} you may see is called “{text}”.{hint}")


def resolve_user(user, text: str, *, bar=None, roles=None, active_only=False, what: str = "user"):
    """The one user `text` names among those the requester may see (narrowed like `users_visible_to`): a
    username, a display name, a picker label "Name (username)" or an id; None for an empty text. A display name
    two people share, or one person's display name that is another's username, is a `NameProblem` listing the
    candidates."""
    text = (text or "").strip()
    if not text:
        return None
    visible = users_visible_to(user, bar=bar, roles=roles, active_only=active_only)
    where = f" among the members of {bar.name}" if bar is not None else ""
    as_id = _as_uuid(text)
    if as_id is not None:
        found = visible.filter(pk=as_id).first()
        if found is None:
            raise NameProblem(f"No {what}{where} has the id {as_id}.")
        return found
    labelled = _USER_LABEL.match(text)
    if labelled:
        found = visible.filter(login__iexact=labelled["username"]).first()
        if found is not None and fold(found.display_name or found.username) == fold(labelled["name"]):
            return found
    matches = list(visible.filter(Q(login__iexact=text) | Q(full_name__iexact=text))[:60])
    if not matches:
        matches = list(visible.filter(_matches(["full_name", "login"], text, anchored="^$"))[:60])
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        labels = sorted(user_label(u) for u in matches)
        raise NameProblem(
            f"{len(matches)} people{where} are called “{text}”: {_candidates_text(labels, len(matches))}. "
            "Type the login in brackets to pick one, e.g. “" + labels[0] + "”.",
            candidates=matches,
        )
    suggestions, _ = search_users(user, text, bar=bar, roles=roles, active_only=active_only, limit=5)
    hint = f" Did you mean: {', '.join(label for _, label in suggestions)}?" if suggestions else ""
    raise NameProblem(f"No {what}{where} is called “{text}”.{hint}")


# --- the picker as a form widget -------------------------------------------------------------------------------


def picker_url(kind: str, name: str, *, bar=None, roles=None, active_only: bool = False) -> str:
    """The URL a picker's input asks for its options (htmx sends the input's own value under its name)."""
    params = {"field": name}
    if bar is not None:
        params["bar"] = str(getattr(bar, "pk", bar))
    if roles:
        params["roles"] = ",".join(roles)
    if active_only:
        params["active"] = "1"
    return reverse("pick_bars" if kind == "bars" else "pick_users") + "?" + urlencode(params)


def picker_attrs(kind: str, name: str, element_id: str, **narrowing) -> dict:
    """The attributes that make a text input a picker: a datalist htmx fills while the person types."""
    return {
        "list": f"{element_id}-options",
        "autocomplete": "off",
        "spellcheck": "false",
        "hx-get": picker_url(kind, name, **narrowing),
        "hx-trigger": "input changed delay:200ms, focus once",
        "hx-target": f"#{element_id}-options",
        "hx-swap": "innerHTML",
        "hx-sync": "this:replace",
        "data-picker": kind,
    }


class PickerInput(TextInput):
    """A text input with a search-as-you-type datalist of bars or users (works as a plain text field without
    JavaScript: the form field resolves the typed name)."""

    def __init__(self, kind: str, *, bar=None, roles=None, active_only: bool = False, attrs=None):
        super().__init__(attrs)
        self.kind = kind
        self.narrowing = {"bar": bar, "roles": roles, "active_only": active_only}

    def render(self, name, value, attrs=None, renderer=None):
        attrs = dict(attrs or {})
        element_id = attrs.get("id") or f"id_{name}"
        attrs["id"] = element_id
        attrs.update(picker_attrs(self.kind, name, element_id, **self.narrowing))
        html = super().render(name, value, attrs, renderer)
        return html + format_html('<datalist id="{}-options"></datalist>', element_id)


class PickerField(CharField):
    """A form field that turns the typed name into the one bar or user it names (``NameProblem`` → a field
    error listing the candidates). ``requester`` must be set (the form's user) before the form is validated."""

    def __init__(self, kind: str, *, bar=None, roles=None, active_only: bool = False, **kwargs):
        self.kind = kind
        self.bar = bar
        self.roles = roles
        self.active_only = active_only
        self.requester = None
        kwargs.setdefault("max_length", 300)
        kwargs.setdefault("widget", PickerInput(kind, bar=bar, roles=roles, active_only=active_only))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, Bar):
            return bar_label(value)
        if isinstance(value, AuthUser):
            return user_label(value)
        return value

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        try:
            if self.kind == "bars":
                return resolve_bar(self.requester, text)
            return resolve_user(self.requester, text, bar=self.bar, roles=self.roles, active_only=self.active_only)
        except NameProblem as problem:
            raise ValidationError(str(problem), code="name") from problem
