"""Deployment records: the runbook's template, filled from the cockpit's facts, signed by two people."""
