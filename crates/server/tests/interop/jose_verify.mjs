// node jose: find the keys through the OpenID configuration and verify a
// passcard access token; a tampered one must fail.
// Usage: node jose_verify.mjs ISSUER AUDIENCE TOKEN
import { createRemoteJWKSet, jwtVerify } from "jose";

const [issuer, audience, token] = process.argv.slice(2);
const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
if (meta.issuer !== issuer) throw new Error(`issuer ${meta.issuer}`);
const keys = createRemoteJWKSet(new URL(meta.jwks_uri));
const { payload, protectedHeader } = await jwtVerify(token, keys, { issuer, audience, typ: "at+jwt" });
let tampered = "verified";
try {
  await jwtVerify(token.slice(0, -2) + (token.endsWith("A") ? "BB" : "AA"), keys, { issuer, audience });
} catch (e) {
  tampered = e.code;
}
console.log(JSON.stringify({ sub: payload.sub, role: payload.role, alg: protectedHeader.alg, tampered }));
