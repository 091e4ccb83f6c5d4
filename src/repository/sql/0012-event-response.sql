-- Issue 18. The response events (kind `response`, read from pgwarden.response_actions by the
-- `responses` source): what a response did, refused or only described, as one object. No
-- released version stored such events, so every row already here has NULL.
ALTER TABLE pgwarden_repo.events ADD COLUMN response jsonb;
ALTER TABLE pgwarden_repo.undated_events ADD COLUMN response jsonb;
