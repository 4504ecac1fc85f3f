"""The runbook's SQL, verbatim where it runs as written, so tests, checks and benches compare against it.

``auth.users`` is a view over ``users`` (migration 0001), so the runbook's queries that read it run unchanged.
Where the runbook's text cannot run at all, the constant holds the runbook's text and a ``*_FIXED`` sibling holds
the smallest correction, with the reason.
"""

# The tables and objects the runbook's migrations create or protect, named once for every check.
RLS_TABLES = ("sales", "consignments", "returns")
POLICY_COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")
OPERATING_MODE_INDEX = "idx_bars_operating_mode"
# BarTender's client queries under Row Level Security (runbook: "RLS latency < 50 ms"), as (role, name, SQL) with
# %(user)s = the signed-in BarTender user (the `sub` of the JWT claims) and %(bar)s = that user's bar. The health
# check probes them every run
# as the client role; bench/rls.py measures them (and the unfiltered ORDER BY … LIMIT shapes, which no policy can
# serve under 50 ms at 5M sales: clients send the filtered form).
RLS_CLIENT_QUERIES = (
    ("server", "server: my sales today", "SELECT count(*) FROM sales WHERE created_at > now() - interval '1 day'"),
    ("server", "server: my sales this week", "SELECT count(*) FROM sales WHERE created_at > now() - interval '7 days'"),
    (
        "server",
        "server: my latest 20",
        "SELECT id, amount FROM sales WHERE server_id = %(user)s ORDER BY created_at DESC LIMIT 20",
    ),
    (
        "manager",
        "manager: bar's sales today",
        "SELECT count(*) FROM sales WHERE bar_id = %(bar)s AND created_at > now() - interval '1 day'",
    ),
    (
        "manager",
        "manager: bar's latest 20",
        "SELECT id, amount FROM sales WHERE bar_id = %(bar)s ORDER BY created_at DESC LIMIT 20",
    ),
)

# --- Section 2.1: verification after each migration step ------------------------------------------
STEP1_SERVER_ID_COLUMN = """
SELECT column_name FROM information_schema.columns
WHERE table_name='sales' AND column_name='server_id'
"""
STEP2_MAPPINGS_TABLE = "SELECT COUNT(*) FROM server_name_mappings"
STEP3_SIMPLIFIED_POLICY = """
SELECT COUNT(*) FROM pg_policies
WHERE tablename='sales' AND policyname LIKE '%simplified%'
"""
# As printed in the runbook; information_schema.referential_constraints has neither `table_name` nor
# `delete_option`, so PostgreSQL rejects it (undefined column).
STEP4_FK_ON_DELETE = """
SELECT constraint_name, delete_option
FROM information_schema.referential_constraints
WHERE table_name='sales' AND constraint_name LIKE '%server_id%'
"""
# The same question answered: the table comes from table_constraints, the rule is `delete_rule`.
STEP4_FK_ON_DELETE_FIXED = """
SELECT rc.constraint_name, rc.delete_rule AS delete_option
FROM information_schema.referential_constraints rc
JOIN information_schema.table_constraints tc
  ON tc.constraint_schema = rc.constraint_schema AND tc.constraint_name = rc.constraint_name
WHERE tc.table_name='sales' AND rc.constraint_name LIKE '%server_id%'
"""
STEP5_OPERATING_MODE_INDEX = """
SELECT indexname FROM pg_indexes
WHERE tablename='bars' AND indexname LIKE '%operating_mode%'
"""
STEP6_BACKFILL_RESULTS = """
SELECT fallback_used, COUNT(*) as count FROM migration_server_id_log
GROUP BY fallback_used
"""
STEP6_RECENT_FALLBACKS = """
SELECT * FROM migration_server_id_log
WHERE fallback_used = true
ORDER BY created_at DESC
LIMIT 10
"""

# --- Section 2.2: post-migration validation ------------------------------------------------------------
VALIDATION_SERVER_ID_POPULATION = """
SELECT
  COUNT(*) as total_sales,
  COUNT(server_id) as with_server_id,
  COUNT(*) - COUNT(server_id) as without_server_id
FROM sales
"""
VALIDATION_ORPHANED_FKS = """
SELECT COUNT(*) FROM sales
WHERE server_id IS NOT NULL AND server_id NOT IN (SELECT id FROM auth.users)
"""
# The runbook runs EXPLAIN ANALYZE; the panel reads the plan only (EXPLAIN (FORMAT JSON)), never executing.
VALIDATION_OPERATING_MODE_QUERY = """
SELECT COUNT(*) FROM bars
WHERE settings->>'operatingMode' = 'simplified'
"""
VALIDATION_MIGRATION_FAILURES = """
SELECT COUNT(*) FROM migration_server_id_log
WHERE fallback_reason LIKE '%failed%'
"""

# --- Security & Data Integrity ----------------------------------------------------------------------
SECURITY_RLS_ENABLED = """
SELECT tablename, rowsecurity
FROM pg_tables
WHERE tablename IN ('sales', 'consignments', 'returns')
  AND schemaname = 'public'
"""
SECURITY_POLICIES = """
SELECT tablename, policyname
FROM pg_policies
WHERE tablename IN ('sales', 'consignments', 'returns')
"""

# --- Health Check Queries (every 5 minutes) -----------------------------------------------------------
HEALTH_ADOPTION_RATE = """
SELECT
  COUNT(CASE WHEN settings->>'operatingMode' = 'simplified' THEN 1 END) * 100.0 / COUNT(*) as adoption_rate
FROM bars
"""
HEALTH_COVERAGE_24H = """
SELECT
  COUNT(CASE WHEN server_id IS NOT NULL THEN 1 END) * 100.0 / COUNT(*) as coverage
FROM sales
WHERE created_at > NOW() - INTERVAL '24 hours'
"""
HEALTH_SERVER_ID_INDEX = """
SELECT COUNT(*) FROM sales
WHERE server_id = %s
LIMIT 100
"""
HEALTH_ERRORS_LAST_5_MIN = """
SELECT COUNT(*) as error_count
FROM audit_logs
WHERE created_at > NOW() - INTERVAL '5 minutes'
  AND level = 'error'
"""

# --- Monitoring during rollout (4.2) -------------------------------------------------------------------
DASHBOARD_ERROR_TRACKING = """
SELECT
  DATE_TRUNC('minute', created_at) as minute,
  COUNT(*) as error_count,
  COUNT(DISTINCT bar_id) as affected_bars
FROM audit_logs
WHERE error_message LIKE '%server_id%'
GROUP BY minute
ORDER BY minute DESC
LIMIT 60
"""
DASHBOARD_RESOLUTION_SUCCESS_RATE = """
SELECT
  DATE_TRUNC('hour', created_at) as hour,
  COUNT(CASE WHEN server_id IS NOT NULL THEN 1 END) * 100.0 / COUNT(*) as success_rate
FROM sales
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY hour
ORDER BY hour DESC
"""

# --- Root cause analysis after rollback ----------------------------------------------------------------
RCA_AUDIT_ERROR_PATTERNS = """
SELECT
  error_type,
  COUNT(*) as count,
  MAX(created_at) as last_occurrence
FROM audit_logs
WHERE created_at > NOW() - INTERVAL '1 hour'
  AND error_message LIKE '%server_id%'
GROUP BY error_type
ORDER BY count DESC
"""
RCA_FALLBACKS_BY_REASON = """
SELECT
  fallback_reason,
  COUNT(*) as count,
  ARRAY_AGG(DISTINCT bar_id) as affected_bars
FROM migration_server_id_log
WHERE fallback_used = true
GROUP BY fallback_reason
ORDER BY count DESC
"""
RCA_ORPHANED_SALES_LAST_HOUR = """
SELECT COUNT(*) as orphaned_sales
FROM sales
WHERE created_at > (NOW() - INTERVAL '1 hour')
  AND server_id IS NULL
  AND bar_id IN (
    SELECT id FROM bars
    WHERE settings->>'operatingMode' = 'simplified'
  )
"""

# The same question over a given window (an incident's, on the root-cause page) instead of the hour before NOW():
# only the time bounds differ (parameters %(start)s and %(end)s, so LIKE's percent signs are doubled).
RCA_AUDIT_ERROR_PATTERNS_WINDOW = """
SELECT
  error_type,
  COUNT(*) as count,
  MAX(created_at) as last_occurrence
FROM audit_logs
WHERE created_at > %(start)s AND created_at <= %(end)s
  AND error_message LIKE '%%server_id%%'
GROUP BY error_type
ORDER BY count DESC
"""

# --- Post-deployment verification, day 1 ----------------------------------------------------------------
DAY1_COVERAGE = """
SELECT COUNT(CASE WHEN server_id IS NOT NULL THEN 1 END) * 100.0 / COUNT(*) as coverage
FROM sales WHERE created_at > NOW() - INTERVAL '24 hours'
"""
DAY1_ORPHANED = """
SELECT COUNT(*) FROM sales
WHERE server_id IS NOT NULL
  AND server_id NOT IN (SELECT id FROM auth.users)
"""
