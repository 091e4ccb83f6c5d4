
-- A session's events by its id alone. Since issue 14 every event of a stderr log has a session
-- id (a synthetic one where the prefix has no %c), so this index takes an entry per event and is
-- the writer's dearest after the dedup key: on (server, session_id) it cost 0.65 s of the
-- repository's CPU per 500,000 events, on (session_id) 0.5 s (measured on the events of
-- bench:ingest). Every lookup names the session id and filters the server (a session id is
-- practically unique: start second and pid), and two of them as COALESCE(server, ''), which the
-- old index's leading column could not serve before PostgreSQL 18's skip scan. No row changes.
CREATE INDEX events_session_id ON pgwarden_repo.events (session_id) WHERE session_id IS NOT NULL;
DROP INDEX pgwarden_repo.events_session;
ALTER INDEX pgwarden_repo.events_session_id RENAME TO events_session;
