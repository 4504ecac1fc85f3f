-- Mode Switching, step 3: Row Level Security for server_id.
--
-- * select: a server sees the rows they served; an active owner/manager sees every row of their bar. A RESTRICTIVE
--   policy also limits every reader to the bars they are an active member of, so a server who left a bar stops
--   seeing its sales, and the planner gets an indexable `bar_id = ANY (…)` for every query shape (the unfiltered
--   `ORDER BY created_at DESC LIMIT 20` included);
-- * insert (own): an active member records a row as themselves (server_id empty or themselves);
-- * insert (simplified mode): in a bar whose operatingMode is 'simplified', an active owner/manager records a row
--   on behalf of an active member of that same bar.
-- Every per-statement value is computed once (an InitPlan: `(SELECT …)`), never per row.
CREATE FUNCTION public.app_simplified_mode_members(p_user uuid, p_user_roles text[], p_member_roles text[])
  RETURNS TABLE (bar_id uuid, member_id uuid)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public ROWS 10 AS $$
  BEGIN
    RETURN QUERY
      SELECT member.bar_id, member.user_id
      FROM bar_members me
      JOIN bars b ON b.id = me.bar_id AND b.settings->>'operatingMode' = 'simplified'
      JOIN bar_members member ON member.bar_id = me.bar_id
      WHERE me.user_id = p_user AND me.is_active AND me.role = ANY (p_user_roles)
        AND member.is_active AND member.role = ANY (p_member_roles);
  END
  $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['sales', 'consignments', 'returns'] LOOP
    EXECUTE format('DROP POLICY %1$s_select_member ON public.%1$I', t);
    EXECUTE format('DROP POLICY %1$s_insert_member ON public.%1$I', t);
    EXECUTE format($p$CREATE POLICY %1$s_select_own_or_bar_manager ON public.%1$I FOR SELECT TO authenticated
      USING (server_id = (SELECT auth.uid())
             OR bar_id = ANY ((SELECT public.app_user_bar_ids((SELECT auth.uid()), ARRAY['owner', 'manager']))::uuid[]))$p$, t);
    EXECUTE format($p$CREATE POLICY %1$s_select_member_bars ON public.%1$I AS RESTRICTIVE FOR SELECT TO authenticated
      USING (bar_id = ANY ((SELECT public.app_user_bar_ids((SELECT auth.uid()), ARRAY['owner', 'manager', 'server']))::uuid[]))$p$, t);
    EXECUTE format($p$CREATE POLICY %1$s_insert_own ON public.%1$I FOR INSERT TO authenticated
      WITH CHECK (created_by = (SELECT auth.uid())
                  AND (server_id IS NULL OR server_id = (SELECT auth.uid()))
                  AND bar_id = ANY ((SELECT public.app_user_bar_ids((SELECT auth.uid()), ARRAY['owner', 'manager', 'server']))::uuid[]))$p$, t);
    EXECUTE format($p$CREATE POLICY %1$s_insert_simplified_mode ON public.%1$I FOR INSERT TO authenticated
      WITH CHECK (created_by = (SELECT auth.uid())
                  AND server_id IS NOT NULL
                  AND (bar_id, server_id) IN (
                    SELECT r.bar_id, r.member_id
                    FROM public.app_simplified_mode_members((SELECT auth.uid()), ARRAY['owner', 'manager'],
                                                            ARRAY['owner', 'manager', 'server']) AS r))$p$, t);
  END LOOP;
END $$;
