"""A check's result in words for people (STYLE.md "Every figure says what it is"): its value in the unit of its
threshold, the sample it stands on, its details labelled, what it means and what to do (from ``check_texts``),
and an alert's lines for the alert list and its mail."""

import json
from dataclasses import dataclass, field

from monitoring.health.check_texts import STATUS_WORDS, CheckText, runbook_url, text_for, threshold_words

# Detail keys already said elsewhere (the sample line) or only for engineers (shown behind <details>).
_SAID_ELSEWHERE = {"sample", "min_sample", "sample_text", "needed_text", "snapshot"}
_FOR_ENGINEERS = {"plans", "slowest", "queries_ms", "policies", "people"}
DETAIL_LABELS = {
    "failures": "Refused resolutions",
    "resolved_sales": "Sales with a resolved server",
    "window_minutes": "Window",
    "window_hours": "Window",
    "used": "Connections in use",
    "max_connections": "Connections allowed (max_connections)",
    "sales": "Sales",
    "with_server_id": "Sales with a server",
    "logged": "Backfilled sales",
    "fallbacks": "Needed a fallback",
    "failed": "Fallback failed",
    "errors": "Error-level logs",
    "error_rate_pct": "Error rate",
    "problems": "Problems found",
    "bars": "Bars",
    "simplified": "Bars in simplified mode",
    "role": "Database role used",
    "skipped_no_such_user": "Queries skipped (no such user yet)",
    "tables": "Per table",
    "flags_on_sales": "Sales of bars whose flags were on",
    "history_sales": "Backfilled history (sales before the backfill began)",
    "all_sales": "All sales in the window",
    "all_with_server_id": "All sales with a server",
    "counted": "Counted",
    "history_before": "History ends at (the last full backfill's start)",
}


def _number(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{int(value):,}"
    return f"{text} {unit}".strip() if unit else text



@dataclass
class CheckPresentation:
    name: str
    title: str
    status: str
    status_words: str
    value_text: str
    threshold_text: str
    sample_text: str
    meaning: str
    todo: str
    runbook_url: str
    secondary: str = ""
    error: str = ""
    detail_rows: list = field(default_factory=list)
    engineer_rows: list = field(default_factory=list)
    plans: list = field(default_factory=list)


def _value(name: str, result, text: CheckText) -> tuple[str, str]:
    """(value in the threshold's unit, a secondary figure)."""
    detail = result.detail or {}
    if result.status == "insufficient":
        return "not enough data", ""
    if result.error and result.value is None:
        return "could not run", ""
    if name == "error_logs":
        # Judged as a rate (critical > 1 %), warned on as a count: the rate first, in %.
        rate = detail.get("error_rate_pct")
        errors = detail.get("errors", result.value)
        return _number(
            rate if rate is not None else 0.0, "%"
        ), f"{_number(errors)} error-level log{'s' if errors != 1 else ''}"
    if text.unit:
        return _number(result.value, text.unit), ""
    return _number(result.value) + (f" {text.counts}" if text.counts else ""), ""


def _sample(name: str, result) -> str:
    detail = result.detail or {}
    window = ""
    if detail.get("window_minutes"):
        minutes = detail["window_minutes"]
        window = f" in the last {minutes} min" if minutes < 60 else f" in the last {minutes // 60} h"
    elif detail.get("window_hours"):
        window = f" in the last {detail['window_hours']} h"
    if name == "db_connections" and "used" in detail:
        return f"{detail['used']:,} of {detail['max_connections']:,} connections"
    if detail.get("sample_text"):
        return f"of {detail['sample_text']}{window}"
    return window.strip()


def _detail_value(key: str, value) -> str:
    if key == "window_minutes":
        return f"{value} min"
    if key == "window_hours":
        return f"{value} h"
    if key == "history_before" and isinstance(value, str) and value[:1].isdigit():
        return value[:16].replace("T", " ") + " UTC"  # stored as an ISO instant in UTC
    if key == "error_rate_pct":
        return _number(value, "%")
    if key == "tables" and isinstance(value, dict):
        parts = []
        for table, info in value.items():
            if isinstance(info, dict) and "flags_on" in info:
                new, old = info["flags_on"], info["history"]
                parts.append(f"{table}: written with the flags on {_number(new.get('coverage_pct'), '%')} of "
                             f"{_number(new.get('rows'))}, backfilled history {_number(old.get('coverage_pct'), '%')} "
                             f"of {_number(old.get('rows'))} ({_number(info.get('all_rows'))} in all)")  # fmt: skip
            elif isinstance(info, dict) and "coverage_pct" in info:
                parts.append(f"{table}: {_number(info.get('coverage_pct'), '%')} of {_number(info.get('counted'))} "
                             f"counted ({_number(info.get('all_rows'))} in all)")  # fmt: skip
            elif isinstance(info, dict):
                guard = f" (guaranteed by {info['guaranteed_by']})" if info.get("guaranteed_by") else ""
                parts.append(f"{table}: {_number(info.get('orphans'))}{guard}")
        return "; ".join(parts)
    if isinstance(value, list):
        return "; ".join(str(item) for item in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _plans(detail: dict) -> list[dict]:
    """EXPLAIN nodes of the indexes check as rows: query, which plan, node, table, index."""
    rows = []
    for query, plans in (detail.get("plans") or {}).items():
        for which, label in (("chosen", "as the planner chooses"), ("index_only", "with sequential scans off")):
            for node in plans.get(which) or []:
                rows.append(
                    {
                        "query": query.replace("_", " "),
                        "plan": label,
                        "node": node.get("node", ""),
                        "table": node.get("relation") or "",
                        "index": node.get("index") or "",
                    }
                )
    return rows


def _engineer_rows(detail: dict) -> list[tuple[str, str]]:
    rows = []
    for item in detail.get("slowest") or []:
        rows.append(
            (
                f"{_number(item.get('mean_ms'), 'ms')} mean over {_number(item.get('calls'))} calls",
                item.get("query", ""),
            )
        )
    for query, ms in (detail.get("queries_ms") or {}).items():
        rows.append((_number(ms, "ms"), query))
    for person in detail.get("people") or []:
        rows.append((f"{person.get('kind')} {person.get('user')}",
                     f"sees {_number(person.get('sees'))} (should see {_number(person.get('should_see'))}), "
                     f"not theirs: {_number(person.get('sees_not_theirs'))}"))  # fmt: skip
    for table, commands in (detail.get("policies") or {}).items():
        rows.append((f"{table} policies", ", ".join(commands) or "none"))
    return rows


def present(name: str, result) -> CheckPresentation:
    """Everything a page or a mail says about one check result (``result`` may be None: not run yet)."""
    text = text_for(name)
    if result is None:
        return CheckPresentation(
            name, text.title, "unknown", "Not run yet", "—", "", "", text.meaning, text.todo, runbook_url(text.section)
        )
    value, secondary = _value(name, result, text)
    detail = result.detail or {}
    rows = [
        (DETAIL_LABELS.get(key, key.replace("_", " ").capitalize()), _detail_value(key, val))
        for key, val in detail.items()
        if key not in _SAID_ELSEWHERE and key not in _FOR_ENGINEERS and val not in (None, "", [], {})
    ]
    return CheckPresentation(
        name=name,
        title=text.title,
        status=result.status,
        status_words=STATUS_WORDS.get(result.status, result.status),
        value_text=value,
        threshold_text=threshold_words(result.threshold),
        sample_text=_sample(name, result),
        meaning=text.meaning,
        todo=text.todo,
        runbook_url=runbook_url(text.section),
        secondary=secondary,
        error=result.error,
        detail_rows=rows,
        engineer_rows=_engineer_rows(detail),
        plans=_plans(detail),
    )


def alert_lines(alert, *, event_kind: str = "") -> list[tuple[str, str]]:
    """What the alert list and the alert mail both say about an alert, as (label, text) lines."""
    shown = present(alert.check_name, alert.last_result)
    value = shown.value_text + (f" ({shown.secondary})" if shown.secondary else "")
    lines = [
        ("Check", shown.title),
        ("Severity", STATUS_WORDS.get(alert.severity, alert.severity)),
        ("State", alert.get_state_display() + (f" ({event_kind.replace('_', ' ')})" if event_kind else "")),
        ("Value", value + (f" — {shown.threshold_text}" if shown.threshold_text else "")),
    ]
    if shown.sample_text:
        lines.append(("Sample", shown.sample_text))
    if alert.last_result and alert.last_result.streak_text:
        lines.append(("Failing runs", alert.last_result.streak_text))
    if shown.error:
        lines.append(("Error", shown.error))
    lines += [("What it means", shown.meaning), ("What to do", shown.todo), ("Runbook", shown.runbook_url)]
    return lines


def alert_subject(alert, *, event_kind: str) -> str:
    title, severity = text_for(alert.check_name).title, STATUS_WORDS.get(alert.severity, alert.severity)
    return f"[BarTender health] {severity}: {title} — {event_kind}"
