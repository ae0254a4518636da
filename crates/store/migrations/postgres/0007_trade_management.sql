-- Order shipping management (SPEC §10.12): each app's settings, on the app's row so that
-- the token check that gates the family (trade_managed → 48001) reads them with the app.
ALTER TABLE apps
    ADD COLUMN trade_managed BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN confirmation_completed BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN ingest_delay_s BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN auto_confirm_courier BIGINT NOT NULL DEFAULT 10,
    ADD COLUMN auto_confirm_other BIGINT NOT NULL DEFAULT 2,
    ADD COLUMN settle_delay_s BIGINT NOT NULL DEFAULT 86400,
    -- set_msg_jump_path (SPEC §10.9): NULL is WeChat's own confirm page.
    ADD COLUMN msg_jump_path TEXT;
