-- A logout, or a refresh token replayed after its reuse interval (theft),
-- revokes the whole login: every access token of the refresh family.
-- SQLite cannot change a CHECK constraint in place, so the log is rebuilt,
-- keeping its AUTOINCREMENT sequence: ids of pruned events are never
-- reused, or followers reading "after the last id" would miss events.

CREATE TABLE revocation_events_next (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('jti', 'version', 'family')),
    user_id    INTEGER NOT NULL,
    jti        TEXT,
    version    INTEGER,
    family_id  INTEGER,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
);

INSERT INTO revocation_events_next (id, kind, user_id, jti, version, expires_at, created_at)
    SELECT id, kind, user_id, jti, version, expires_at, created_at FROM revocation_events;

DELETE FROM sqlite_sequence WHERE name = 'revocation_events_next';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'revocation_events_next', seq FROM sqlite_sequence WHERE name = 'revocation_events';

DROP TABLE revocation_events;
ALTER TABLE revocation_events_next RENAME TO revocation_events;
