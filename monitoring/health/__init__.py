"""Health: the check suite (``health_checks``, ``checks_runbook``, ``checks_performance`` on ``check_base``), its
words for people (``check_texts``), the runs and alerts (``services``, ``alerts``), phase windows, the pipeline's
liveness, the reads pages need (``selectors``) and the dashboard's views."""
