-- 066_usage_media.sql: what a media call billed, kept on its usage
-- record (docs/reconciliation.md, "Images, audio and speech"): creditctl
-- reconcile shows the media routes' calls apart from the token routes'
-- and lines their units up against the provider's report.
--
-- media_kind is the route's kind ('images', 'speech', 'transcription';
-- NULL for the token routes, the guard and every record before this);
-- the units are what the call was charged for: characters of speech,
-- milliseconds of audio transcribed, images made. Moderations are free
-- and record nothing. Written by the gateway after its settle, beside
-- the other billed facts (sql/047), in a transaction of its own.
ALTER TABLE usage_records
  ADD COLUMN IF NOT EXISTS media_kind VARCHAR(16) CHARACTER SET ascii NULL,
  ADD COLUMN IF NOT EXISTS media_characters BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS media_audio_ms BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS media_images BIGINT NOT NULL DEFAULT 0;

-- Reconcile sums them per day, model and kind from this index alone
-- (ix_created_model is at InnoDB's 16 columns): its first column is the
-- kind, so the query reads the media calls of the period and no other
-- record. Built online; the token routes' records all sit under NULL.
ALTER TABLE usage_records
  ADD KEY IF NOT EXISTS ix_media_created (media_kind, created_at, model, byok, media_characters, media_audio_ms,
                                          media_images),
  ALGORITHM = INPLACE, LOCK = NONE;
