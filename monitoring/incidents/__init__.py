"""Incidents and escalation: opening and updating incidents (``services``), the incident clock's reminders,
escalation and delivery (``escalation``), their reads (``selectors``), communication templates, outreach,
root-cause summaries, forms and views."""
