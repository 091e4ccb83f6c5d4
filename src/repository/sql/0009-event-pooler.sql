-- Issue 19. The connection pooler an event came through (`pgbouncer` for the events read from
-- pgBouncer's log), so that reports tell a login through the pooler from one straight to the
-- server. No released version stored pgBouncer's events (its parser is new in the same
-- release), so every row already here is a server's own record: NULL, and no UPDATE.
ALTER TABLE pgwarden_repo.events ADD COLUMN pooler text;
ALTER TABLE pgwarden_repo.undated_events ADD COLUMN pooler text;
