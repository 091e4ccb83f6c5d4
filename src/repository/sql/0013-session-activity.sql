-- Issue 14. What each session did, kept by the writer in the batch's transaction (as it keeps the
-- hourly counts): its events and audited statements stored, and the times of its first and last
-- event. The sessions page and report read the statement counts here, and a session's events are
-- found within its first and last event by the dedup key's index (ts first), so the events no
-- longer need an index entry each by session id: that index was the writer's dearest after the
-- dedup key (0.62 of 3.15 CPU-s of the repository per 506,529 events of a stderr log, where every
-- event has a session id since issue 14). Counts are of events stored, kept exact by the writer
-- whatever the order of batches or writers (an upsert that adds); a session's row here may come
-- before its connection records do, or without any (a log that does not record connections).
CREATE TABLE pgwarden_repo.session_activity (
  server text NOT NULL,
  session_id text NOT NULL,
  events bigint NOT NULL,
  statements bigint NOT NULL,
  first_ts timestamptz NOT NULL,
  last_ts timestamptz NOT NULL,
  PRIMARY KEY (server, session_id)
);
CREATE INDEX session_activity_last ON pgwarden_repo.session_activity (last_ts);
-- From what is stored (with the index about to go): every dated event with a session id.
INSERT INTO pgwarden_repo.session_activity (server, session_id, events, statements, first_ts, last_ts)
SELECT COALESCE(server, ''), session_id, pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE kind = 'audit'), min(ts), max(ts)
  FROM pgwarden_repo.events WHERE session_id IS NOT NULL GROUP BY 1, 2;
DROP INDEX pgwarden_repo.events_session;
