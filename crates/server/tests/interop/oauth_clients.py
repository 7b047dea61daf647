"""Drives passcard's OAuth endpoints with software nobody on the project
wrote: authlib (refresh through the token endpoint, introspection,
revocation) and PyJWT's PyJWKClient (an EdDSA token verified with keys
found through the metadata). Prints one JSON line of what it saw; any
failed expectation raises.

Usage: python oauth_clients.py BASE_URL ISSUER AUDIENCE USERNAME PASSWORD SERVICE_ID SERVICE_SECRET
"""
import base64
import json
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

base, issuer, audience, username, password, service_id, service_secret = sys.argv[1:8]
seen = {}

meta = requests.get(issuer + "/.well-known/oauth-authorization-server", timeout=10).json()
assert meta["issuer"] == issuer, meta
seen["grant_types"] = meta["grant_types_supported"]

# A login through passcard's own API (the password grant is off by default).
pair = requests.post(base + "/v1/login", json={"username": username, "password": password}, timeout=10).json()

# authlib, as a public client: refresh through the token endpoint.
client = OAuth2Session(client_id="authlib-app", token_endpoint_auth_method="none", token=pair)
fresh = client.refresh_token(meta["token_endpoint"], refresh_token=pair["refresh_token"])
assert fresh["token_type"] == "Bearer", fresh
assert fresh["access_token"] != pair["access_token"]
assert fresh["refresh_token"] != pair["refresh_token"]
seen["refreshed"] = True

# PyJWKClient: the keys through the metadata's jwks_uri, an EdDSA token.
keys = jwt.PyJWKClient(meta["jwks_uri"])
key = keys.get_signing_key_from_jwt(fresh["access_token"])
claims = jwt.decode(fresh["access_token"], key.key, algorithms=["EdDSA"], audience=audience, issuer=issuer)
seen["pyjwt_sub"] = claims["sub"]
seen["pyjwt_alg"] = jwt.get_unverified_header(fresh["access_token"])["alg"]
# One bit flipped in the middle of the signature: a well-formed token,
# the right length, whose signature is wrong (appending a character would
# be refused for its length, whatever the signature check did).
head, _, signature = fresh["access_token"].rpartition(".")
raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
raw[len(raw) // 2] ^= 0x10
forged = head + "." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
assert len(forged) == len(fresh["access_token"]) and forged != fresh["access_token"]
try:
    jwt.decode(forged, key.key, algorithms=["EdDSA"], audience=audience, issuer=issuer)
    raise AssertionError("a tampered token verified")
except jwt.InvalidSignatureError:
    seen["pyjwt_tampered_refused"] = True

# authlib, as the service: introspection with client_secret_basic.
service = OAuth2Session(client_id=service_id, client_secret=service_secret,
                        token_endpoint_auth_method="client_secret_basic")
active = service.introspect_token(meta["introspection_endpoint"], token=fresh["access_token"]).json()
assert active["active"] is True and active["sub"] == claims["sub"], active
seen["introspected"] = active["active"]

# authlib revokes the refresh token: the login ends, its access token too.
revoked = client.revoke_token(meta["revocation_endpoint"], token=fresh["refresh_token"],
                              token_type_hint="refresh_token")
assert revoked.status_code == 200, revoked.text
after = service.introspect_token(meta["introspection_endpoint"], token=fresh["access_token"]).json()
assert after == {"active": False}, after
seen["after_revocation"] = after
try:
    client.refresh_token(meta["token_endpoint"], refresh_token=fresh["refresh_token"])
    raise AssertionError("a revoked refresh token was rotated")
except Exception as e:  # authlib raises OAuthError(invalid_grant)
    seen["refresh_after_revocation"] = getattr(e, "error", type(e).__name__)

print(json.dumps(seen))
