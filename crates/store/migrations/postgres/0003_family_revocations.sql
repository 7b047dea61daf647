-- A logout, or a refresh token replayed after its reuse interval (theft),
-- revokes the whole login: every access token of the refresh family.

ALTER TABLE revocation_events DROP CONSTRAINT revocation_events_kind_check;
ALTER TABLE revocation_events
    ADD CONSTRAINT revocation_events_kind_check CHECK (kind IN ('jti', 'version', 'family'));
ALTER TABLE revocation_events ADD COLUMN family_id BIGINT;
