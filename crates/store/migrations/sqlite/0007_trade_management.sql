-- Order shipping management (SPEC §10.12): each app's settings, on the app's row so that
-- the token check that gates the family (trade_managed → 48001) reads them with the app.
ALTER TABLE apps ADD COLUMN trade_managed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE apps ADD COLUMN confirmation_completed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE apps ADD COLUMN ingest_delay_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN auto_confirm_courier INTEGER NOT NULL DEFAULT 10;
ALTER TABLE apps ADD COLUMN auto_confirm_other INTEGER NOT NULL DEFAULT 2;
ALTER TABLE apps ADD COLUMN settle_delay_s INTEGER NOT NULL DEFAULT 86400;
-- set_msg_jump_path (SPEC §10.9): NULL is WeChat's own confirm page.
ALTER TABLE apps ADD COLUMN msg_jump_path TEXT;
