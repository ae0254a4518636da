-- The payer's bill lists only orders associated with their payment; a partial index on
-- exactly those rows keeps the first page cheap however many unpaid uploads a payer has.
CREATE INDEX shopping_infos_bill ON shopping_infos (appid, openid, updated_at)
    WHERE associated_at IS NOT NULL;
