-- Seed 000's ExecutionCache counts its hits; its AuditLog is looked up by
-- action (here: event) as well as by user.

ALTER TABLE execution_cache
    ADD COLUMN hit_count integer NOT NULL DEFAULT 0 CHECK (hit_count >= 0),
    ADD COLUMN last_hit_at timestamptz;

CREATE INDEX audit_log_event_created ON audit_log (event, created_at DESC);
