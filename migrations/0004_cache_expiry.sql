-- Expired execution cache entries are deleted in batches by their expiry
-- (ngx_qna_upkeep.c): an index on it alone.

CREATE INDEX execution_cache_expires_at ON execution_cache (expires_at);
