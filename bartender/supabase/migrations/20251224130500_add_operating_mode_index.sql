-- Mode Switching, step 5: find bars by operating mode without reading every bar.
CREATE INDEX idx_bars_operating_mode ON public.bars ((settings->>'operatingMode'));
