-- When an operator sends a failed or expired action again, its expiry delay starts again
-- from then; until then (NULL) it runs from the action's creation.
ALTER TABLE marketplace_actions ADD COLUMN queued_at REAL;
