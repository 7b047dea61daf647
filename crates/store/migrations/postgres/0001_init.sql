-- passcard schema, PostgreSQL. SQLite keeps the same numbering.
-- Integers are BIGINT and flags 0/1 so both backends decode the same types.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    token_version BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- A login starts a family; every refresh rotates within it.
CREATE TABLE refresh_families (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- Refresh tokens are stored only as SHA-256 hashes.
CREATE TABLE refresh_tokens (
    hash       BYTEA  PRIMARY KEY,
    family_id  BIGINT NOT NULL REFERENCES refresh_families (id),
    user_id    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Every revocation, in order. Writers take an advisory lock before
-- inserting, so ids become visible in increasing order.
CREATE TABLE revocation_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT   NOT NULL CHECK (kind IN ('jti', 'version')),
    user_id    BIGINT NOT NULL,
    jti        TEXT,
    version    BIGINT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Server-side secrets shared by every instance.
CREATE TABLE server_secrets (
    name  TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
);
