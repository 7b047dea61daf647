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
  // Change the signature's first character, which carries six bits of
  // it: a change at the very end may touch only the padding bits, which
  // decode to the same signature.
  const at = token.lastIndexOf(".") + 1;
  const forged = token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1);
  await jwtVerify(forged, keys, { issuer, audience });
} catch (e) {
  tampered = e.code;
}
console.log(JSON.stringify({ sub: payload.sub, role: payload.role, alg: protectedHeader.alg, tampered }));
