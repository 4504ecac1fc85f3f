""" "Why is this bar on?": every input of a bar's flags laid out, like Unleash's playground (issue 13).

For one bar: the rollout's stage, the bar's hash bucket (0–99) against the cut of each stage, whether this
rollout switched it (which step, when), its operating-mode choice, each flag's global state, kill switch and
allow-list entry, and the final value of each flag with the reason in words. The final values are computed here
from those inputs and compared with what the flag API serves for the bar (read from the database, not the
process cache), so the page also proves the two agree.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings

from adminpanel.models import Bar, OperatingMode
from rollout.flags.selectors import FlagReading, read_flags_for_bar
from rollout.models import STAGE_ORDER, FeatureFlag, RolloutBarChange, RolloutState, Stage
from rollout.stages.cohorts import bar_bucket, in_cohort

SEARCH_LIMIT = 20


@dataclass(frozen=True)
class StageCut:
    stage: str
    label: str
    rule: str
    in_cohort: bool
    reached: bool

    @property
    def verdict(self) -> str:
        if not self.in_cohort:
            return "not in this stage's cohort"
        return "in the cohort, stage reached" if self.reached else "in the cohort, stage not reached yet"


@dataclass(frozen=True)
class FlagAnswer:
    key: str
    description: str
    value: bool
    enabled_globally: bool
    kill_switch: bool
    allow_listed: bool
    why: str


@dataclass(frozen=True)
class BarExplanation:
    bar: Bar
    stage: str
    stage_label: str
    bucket: int
    cuts: list[StageCut]
    operating_mode: str | None
    mode_why: str
    switched_by: RolloutBarChange | None
    flags: list[FlagAnswer]
    served: FlagReading | None

    @property
    def agrees_with_api(self) -> bool:
        return self.served is not None and all(self.served.flags.get(f.key) == f.value for f in self.flags)

    def as_json(self) -> dict:
        change = self.switched_by
        return {
            "bar": {"id": str(self.bar.pk), "name": self.bar.name, "internal": self.bar.is_internal},
            "stage": {"current": self.stage, "label": self.stage_label},
            "bucket": self.bucket,
            "stages": [
                {"stage": c.stage, "label": c.label, "rule": c.rule, "inCohort": c.in_cohort, "reached": c.reached}
                for c in self.cuts
            ],
            "operatingMode": {"value": self.operating_mode, "why": self.mode_why},
            "switchedByRollout": None
            if change is None
            else {"stage": change.step.stage, "at": change.step.created_at.isoformat(), "step": change.step_id},
            "flags": {
                f.key: {
                    "value": f.value,
                    "enabledGlobally": f.enabled_globally,
                    "killSwitch": f.kill_switch,
                    "allowListed": f.allow_listed,
                    "why": f.why,
                }
                for f in self.flags
            },
            "served": self.served.as_json() if self.served else None,
            "agreesWithFlagApi": self.agrees_with_api,
        }


def stage_rule(stage: str) -> str:
    if stage == Stage.INTERNAL:
        return "internal (test) bars"
    if stage == Stage.HALF:
        return f"hash bucket below {settings.ROLLOUT_HALF_PERCENT}"
    return "every bar"


def _mode_why(bar: Bar, change: RolloutBarChange | None) -> str:
    mode = bar.operating_mode
    if mode == OperatingMode.FULL:
        return "The bar chose full mode: the rollout never switches it, whatever its cohort."
    if mode == OperatingMode.SIMPLIFIED and change is not None:
        step = change.step
        return f"Switched to simplified mode by this rollout at stage {step.stage} on {step.created_at:%Y-%m-%d %H:%M}."
    if mode == OperatingMode.SIMPLIFIED:
        return "In simplified mode, set outside this rollout (the rollout will not roll it back)."
    return "No operating mode chosen yet: the stage whose cohort holds the bar will switch it to simplified."


def _flag_why(flag: FeatureFlag, listed: bool, change: RolloutBarChange | None) -> tuple[bool, str]:
    if flag.kill_switch_engaged:
        return False, "Off: the kill switch is engaged for every bar (the allow-list is kept for its release)."
    if flag.enabled_globally:
        return True, "On: the flag is on for every bar."
    if listed:
        by = (
            f" (added by this rollout at stage {change.step.stage})"
            if change and flag.pk in (change.flags_added or [])
            else ""
        )
        return True, f"On: the bar is on the flag's allow-list{by}."
    return False, "Off: the flag is not on for every bar and the bar is not on its allow-list."


def explain_bar(bar_id: uuid.UUID | str) -> BarExplanation | None:
    """The explanation for one bar (None for an unknown bar); a handful of queries whatever the data size."""
    bar = Bar.objects.filter(pk=bar_id).first()
    if bar is None:
        return None
    state = RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)[0]
    change = (
        RolloutBarChange.objects.filter(bar=bar, rolled_back_at__isnull=True, step__rolled_back_at__isnull=True)
        .select_related("step")
        .order_by("-step__created_at")
        .first()
    )
    current = STAGE_ORDER.index(Stage(state.stage))
    cuts = [
        StageCut(stage, Stage(stage).label, stage_rule(stage), in_cohort(stage, bar), index <= current)
        for index, stage in enumerate(STAGE_ORDER[1:], start=1)
    ]
    listed = set(bar.feature_flags.values_list("pk", flat=True))
    flags = []
    for flag in FeatureFlag.objects.order_by("key"):
        value, why = _flag_why(flag, flag.pk in listed, change)
        flags.append(
            FlagAnswer(
                flag.key,
                flag.description,
                value,
                flag.enabled_globally,
                flag.kill_switch_engaged,
                flag.pk in listed,
                why,
            )  # fmt: skip
        )
    return BarExplanation(
        bar=bar,
        stage=state.stage,
        stage_label=Stage(state.stage).label,
        bucket=bar_bucket(bar.pk),
        cuts=cuts,
        operating_mode=bar.operating_mode,
        mode_why=_mode_why(bar, change),
        switched_by=change,
        flags=flags,
        served=read_flags_for_bar(str(bar.pk)),
    )


def search_bars(query: str, *, limit: int = SEARCH_LIMIT) -> list[Bar]:
    """Bars whose name contains the query (case-insensitive), by name; empty for an empty query."""
    query = (query or "").replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL: never a 500
    if not query:
        return []
    return list(Bar.objects.filter(name__icontains=query).order_by("name", "created_at")[:limit])
