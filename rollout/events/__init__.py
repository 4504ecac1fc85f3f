"""The rollout timeline: one event per change, the history page and its CSV, the actions an incident shows."""
