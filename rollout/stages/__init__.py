"""Stages 4a/4b/4c: advancing, pausing and rolling back, cohorts, the gates, the cohort comparison and the autopilot."""
