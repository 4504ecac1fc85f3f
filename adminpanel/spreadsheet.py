"""Spreadsheet safety for every CSV the panel writes (log exports, mapping export, rollout history)."""

# A cell starting with one of these is a formula to Excel or LibreOffice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(text: str) -> str:
    """The text with a leading apostrophe when it starts like a formula, so opening the file runs nothing."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
