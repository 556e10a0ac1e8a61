-- 048_key_models.sql: the models a key may call through the gateway
-- (DESIGN §14, "Models per key"): creditctl key create --models, a gateway
-- key's "models". A comma-separated list of model names as the app names
-- them (each 1 to 64 bytes, none a comma), at most 16 (src/limits.h
-- LIMIT_KEY_MODELS: 16 * 65 - 1 bytes); NULL for any priced model, as
-- every key made before. Read with the key at each look-up.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS models VARBINARY(1039) NULL AFTER member;
