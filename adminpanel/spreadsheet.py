"""Spreadsheet safety for every CSV the panel writes (log exports, mapping export, rollout history)."""

# A cell starting with one of these is a formula to Excel or LibreOffice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _needs_quote(text: str) -> bool:
    # An apostrophe already followed by a formula start or another apostrophe is quoted again, so that
    # `restore_formula` can tell "'+1" (a defused "+1") from a value that really begins with "'+1".
    return text.startswith(FORMULA_STARTS) or (text.startswith(QUOTE) and text[1:2] in (*FORMULA_STARTS, QUOTE))


def defuse_formula(text: str) -> str:
    """The text with a leading apostrophe when it starts like a formula, so opening the file runs nothing."""
    return QUOTE + text if _needs_quote(text) else text


def restore_formula(text: str) -> str:
    """The exact inverse of `defuse_formula`: an exported file reads back to the values it was made from."""
    if text.startswith(QUOTE) and text[1:2] and text[1:2] in (*FORMULA_STARTS, QUOTE):
        return text[1:]
    return text
