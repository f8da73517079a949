-- The PostgreSQL baseline of bench/compare.sh (DESIGN §8): what a team would hand-roll
-- instead of kaledger. One row per event; a stream's versions are unique, so a writer
-- reads the stream's current version and inserts version + 1 (a unique violation means
-- another writer won the race: retry).
CREATE TABLE events (
    position    bigserial   PRIMARY KEY,
    stream      text        NOT NULL,
    version     bigint      NOT NULL,
    type        text        NOT NULL,
    payload     jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream, version)
);
