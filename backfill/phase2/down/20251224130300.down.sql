-- Undo step 3: back to the member-based policies BarTender had before Mode Switching.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['sales', 'consignments', 'returns'] LOOP
    EXECUTE format('DROP POLICY %1$s_select_own_or_bar_manager ON public.%1$I', t);
    EXECUTE format('DROP POLICY %1$s_select_member_bars ON public.%1$I', t);
    EXECUTE format('DROP POLICY %1$s_insert_own ON public.%1$I', t);
    EXECUTE format('DROP POLICY %1$s_insert_simplified_mode ON public.%1$I', t);
    EXECUTE format($p$CREATE POLICY %1$s_select_member ON public.%1$I FOR SELECT TO authenticated
      USING (bar_id = ANY ((SELECT public.app_user_bar_ids((SELECT auth.uid()), ARRAY['owner', 'manager', 'server']))::uuid[]))$p$, t);
    EXECUTE format($p$CREATE POLICY %1$s_insert_member ON public.%1$I FOR INSERT TO authenticated
      WITH CHECK (created_by = (SELECT auth.uid())
                  AND bar_id = ANY ((SELECT public.app_user_bar_ids((SELECT auth.uid()), ARRAY['owner', 'manager', 'server']))::uuid[]))$p$, t);
  END LOOP;
END $$;
DROP FUNCTION public.app_simplified_mode_members(uuid, text[], text[]);
