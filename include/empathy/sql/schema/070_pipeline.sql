-- When the policy last made real (not simulated) decisions for a user's state. A dry run or a backfill
-- rescoring a user must not swallow the real decision: the next real run decides every user whose state
-- is newer than this.
ALTER TABLE user_state ADD COLUMN IF NOT EXISTS decided_at TIMESTAMPTZ;
