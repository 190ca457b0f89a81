-- A turn's messages are written once however often its record is replayed.

ALTER TABLE chat_messages
    ADD CONSTRAINT chat_messages_once UNIQUE (session_id, execution_id, role);
