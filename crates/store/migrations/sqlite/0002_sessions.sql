-- Server-side sessions (PASSCARD_MODE=session), stored only as hashes of
-- their ids, with an idle and an absolute expiry.
CREATE TABLE sessions (
    hash            BLOB    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    created_at      INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
