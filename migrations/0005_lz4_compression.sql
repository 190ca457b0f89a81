-- The large values of every execution (its script, result, tool calls,
-- trace) and of the execution cache are compressed with LZ4 rather than
-- pglz when TOASTed: pglz_compress was a twentieth of PostgreSQL's time
-- writing the trail of cached answers (bench/analyze-cached --perf), LZ4
-- compresses several times as fast.  Only values written from now on;
-- nothing is rewritten.

ALTER TABLE executions
    ALTER COLUMN script SET COMPRESSION lz4,
    ALTER COLUMN params SET COMPRESSION lz4,
    ALTER COLUMN result SET COMPRESSION lz4,
    ALTER COLUMN error SET COMPRESSION lz4,
    ALTER COLUMN mcp_calls SET COMPRESSION lz4,
    ALTER COLUMN trace SET COMPRESSION lz4;

ALTER TABLE execution_cache
    ALTER COLUMN result SET COMPRESSION lz4;
