"""The rollout's domain errors: refusals raised by services, turned into messages and statuses by the views."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rollout.stages.gates import GateResult


class RolloutError(Exception):
    """Base of every refusal; the message is meant for the person who asked."""


class NotAllowed(RolloutError):
    pass


class InvalidRequest(RolloutError):
    pass


class GateClosed(RolloutError):
    def __init__(self, gates: "list[GateResult]"):
        self.gates = gates
        super().__init__("Gate closed: " + " ".join(f"{gate.label}: {gate.why}" for gate in gates))


class RolloutPaused(RolloutError):
    pass


class KillSwitchEngaged(RolloutError):
    pass


KILL_SWITCH_HOLDS = (
    "The kill switch is engaged: the rollout holds until someone releases it (Release kill switch, with a reason)."
)


class RolloutComplete(RolloutError):
    pass
