
-- Every monitoring result, one row per check per run, for the dashboard's history of a check
-- (check_results keeps the latest, as before). pgwarden serve deletes rows older than
-- serve.monitor.history_days as it stores each run.
CREATE TABLE pgwarden_repo.check_history (
  server text NOT NULL,
  check_name text NOT NULL,
  checked_at timestamptz NOT NULL,
  level text NOT NULL,
  summary text NOT NULL,
  -- the value that decided the level: the highest row value (the lowest for a check whose threshold is a floor)
  value double precision,
  duration_ms double precision,
  PRIMARY KEY (server, check_name, checked_at)
);
CREATE INDEX check_history_checked_at ON pgwarden_repo.check_history (checked_at);
INSERT INTO pgwarden_repo.check_history (server, check_name, checked_at, level, summary)
SELECT server, check_name, checked_at, level, summary FROM pgwarden_repo.check_results;
