-- Server-side sessions (PASSCARD_MODE=session), stored only as hashes of
-- their ids, with an idle and an absolute expiry.
CREATE TABLE sessions (
    hash            BYTEA  PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
