-- Issue 18. The detection rules that ask about the past (dormant_role_login) read, per server,
-- the last login of each role: max(authorized_at) grouped by user_name (src/detect/history.ts).
-- Without an index that is a scan of every session ever stored, at each collect start; with
-- this one, an index-only scan of the server's entries, in (user_name, authorized_at) order.
CREATE INDEX sessions_role_login ON pgwarden_repo.sessions (server, user_name, authorized_at) WHERE authorized_at IS NOT NULL;
