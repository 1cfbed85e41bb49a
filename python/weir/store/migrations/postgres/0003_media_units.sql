-- The media endpoints (embeddings, images, speech, transcriptions) are priced by units besides tokens: images
-- generated, input characters spoken, milliseconds of audio transcribed. Model calls leave them at 0.
ALTER TABLE usage_records ADD COLUMN images BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN characters BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN audio_ms BIGINT NOT NULL DEFAULT 0;
