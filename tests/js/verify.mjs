// Verify a release-gate approval token with jose, using only the gate's JWKS.
//
// Reads one JSON object on stdin: {jwks, token, issuer, audience, packet_digest}.
// Prints {"valid": true, "header": ..., "claims": ...} and exits 0, or
// {"valid": false, "code": ..., "message": ...} and exits 1. Exit 2 on bad input.
import { createLocalJWKSet, jwtVerify } from "jose";

const TOKEN_TYPE = "release-approval+jwt";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function main() {
  let request;
  try {
    request = await readStdin();
  } catch (error) {
    process.stderr.write(`verify.mjs: stdin is not JSON: ${error.message}\n`);
    return 2;
  }
  const { jwks, token, issuer, audience, packet_digest: packetDigest } = request;
  try {
    const keys = createLocalJWKSet(jwks);
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      algorithms: ["EdDSA"],
      issuer,
      audience,
      typ: TOKEN_TYPE,
      requiredClaims: ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"],
    });
    if (protectedHeader.typ !== TOKEN_TYPE) {
      throw Object.assign(new Error(`typ ${protectedHeader.typ}`), { code: "TYP_MISMATCH" });
    }
    if (packetDigest !== undefined && payload.packet_digest !== packetDigest) {
      throw Object.assign(new Error("packet_digest differs"), { code: "DIGEST_MISMATCH" });
    }
    process.stdout.write(JSON.stringify({ valid: true, header: protectedHeader, claims: payload }) + "\n");
    return 0;
  } catch (error) {
    const code = error.code ?? error.name ?? "ERROR";
    process.stdout.write(JSON.stringify({ valid: false, code, message: error.message }) + "\n");
    return 1;
  }
}

process.exitCode = await main();
