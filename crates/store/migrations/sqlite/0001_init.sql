-- passcard schema, SQLite. PostgreSQL keeps the same numbering.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- A login starts a family; every refresh rotates within it. Revoking the
-- family ends every refresh token in it.
CREATE TABLE refresh_families (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- Refresh tokens are stored only as SHA-256 hashes.
CREATE TABLE refresh_tokens (
    hash       BLOB    PRIMARY KEY,
    family_id  INTEGER NOT NULL REFERENCES refresh_families (id),
    user_id    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Every revocation, in order. Servers mirror the live ones in memory and
-- follow the log by id.
CREATE TABLE revocation_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('jti', 'version')),
    user_id    INTEGER NOT NULL,
    jti        TEXT,
    version    INTEGER,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
);

-- Server-side secrets shared by every instance (the refresh-token MAC key).
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
