-- 003_subscription_events.sql: Stripe delivers events out of order; the
-- "created" time of the last event applied to a subscription lets an older
-- one (an update arriving after the deletion) be recognised and ignored.
ALTER TABLE subscriptions ADD COLUMN event_created BIGINT NOT NULL DEFAULT 0;
