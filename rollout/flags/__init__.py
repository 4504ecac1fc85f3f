"""Feature flags: the models, flipping and allow-lists, the flag read API (own and OFREP), its cache, and "why is
this bar on?"."""
