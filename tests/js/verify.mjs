// Verify a release-gate approval token with the npm `jose` library, using only the JWKS.
// usage: node verify.mjs JWKS_FILE ISSUER AUDIENCE < TOKEN
// prints {"ok": true, "kid": ..., "payload": {...}} or {"ok": false, "code": ...}; exit 0 either way.
import { readFileSync } from "node:fs";
import { createLocalJWKSet, jwtVerify } from "jose";

const [jwksFile, issuer, audience] = process.argv.slice(2);
const token = readFileSync(0, "utf8").trim();
const jwks = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, "utf8")));
try {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    algorithms: ["EdDSA"],
    typ: "release-approval+jwt",
    clockTolerance: 60,
  });
  console.log(JSON.stringify({ ok: true, kid: protectedHeader.kid, payload }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code ?? String(err) }));
}
