-- Seed 000's data entities: users, chat sessions and their messages,
-- executions with their trace, the audit log, and the execution cache.
-- Flexible fields are JSONB; what must hold is a constraint.

CREATE TABLE users (
    id              text PRIMARY KEY
                    CHECK (id ~ '^[A-Za-z0-9_.@:+-]{1,128}$'),
    role            text NOT NULL DEFAULT 'viewer'
                    CHECK (role IN ('viewer', 'manager', 'admin')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    preferences     jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE chat_sessions (
    id              text PRIMARY KEY
                    CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    context         jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX chat_sessions_user_updated ON chat_sessions (user_id, updated_at DESC);

CREATE TABLE chat_messages (
    id              bigserial PRIMARY KEY,
    session_id      text NOT NULL REFERENCES chat_sessions (id)
                    ON DELETE CASCADE,
    role            text NOT NULL
                    CHECK (role IN ('user', 'assistant', 'system')),
    content         text NOT NULL,
    execution_id    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX chat_messages_session_created ON chat_messages (session_id, created_at);

CREATE TABLE executions (
    id              text PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id),
    session_id      text REFERENCES chat_sessions (id) ON DELETE SET NULL,
    kind            text NOT NULL CHECK (kind IN ('analyze', 'execute')),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'success',
                                      'failed', 'timeout')),
    question        text,
    planner         text,
    script          text,
    params          jsonb,
    result          jsonb,
    error           jsonb,
    mcp_calls       jsonb NOT NULL DEFAULT '[]'::jsonb,
    trace           jsonb NOT NULL DEFAULT '{}'::jsonb,
    execution_ms    integer CHECK (execution_ms IS NULL OR execution_ms >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    CHECK (finished_at IS NULL OR started_at IS NULL
           OR finished_at >= started_at)
);

CREATE INDEX executions_user_created ON executions (user_id, created_at DESC);
CREATE INDEX executions_session_created ON executions (session_id, created_at DESC);
CREATE INDEX executions_status ON executions (status) WHERE status IN ('pending', 'running');

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    execution_id    text REFERENCES executions (id) ON DELETE SET NULL,
    user_id         text,
    event           text NOT NULL
                    CHECK (event IN ('question_submitted', 'script_generated',
                                     'execution_started',
                                     'execution_finished')),
    client_addr     inet,
    user_agent      text,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- a record replayed from the spool is the same record: never twice
    UNIQUE (execution_id, event)
);

CREATE INDEX audit_log_user_created ON audit_log (user_id, created_at DESC);

CREATE TABLE execution_cache (
    question_hash   text NOT NULL CHECK (question_hash ~ '^[0-9a-f]{64}$'),
    params_hash     text NOT NULL CHECK (params_hash ~ '^[0-9a-f]{64}$'),
    result          jsonb NOT NULL,
    execution_id    text REFERENCES executions (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (question_hash, params_hash),
    CHECK (expires_at > created_at)
);

CREATE INDEX execution_cache_expires ON execution_cache (question_hash, expires_at);
