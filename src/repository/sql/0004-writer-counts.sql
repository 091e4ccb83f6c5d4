
-- The hourly counts are kept by the writer from this version on: it knows the counts of a batch
-- it copies (and takes those of a deduplicating insert from its RETURNING), so the statement
-- trigger of 0003, whose transition table copied every inserted row a second time (a fifth of the
-- writer's cost), goes. Every writer of events is pgwarden's RepositoryWriter.
DROP TRIGGER events_count ON pgwarden_repo.events;
DROP FUNCTION pgwarden_repo.count_events();
-- A session's events, for the events that have a session id: csvlog and jsonlog always, a stderr
-- log only with %c in its prefix (most prefixes, RDS's and Debian's among them, have none). An
-- index of (server, NULL) for every event of such a log cost a quarter of the writer's time and
-- found nothing; a lookup by session id (session_id = $2) still uses the partial index.
DROP INDEX pgwarden_repo.events_session;
CREATE INDEX events_session ON pgwarden_repo.events (server, session_id) WHERE session_id IS NOT NULL;
