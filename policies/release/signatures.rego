# METADATA
# title: Signatures
# description: >-
#   Each signature gets at most one signature.* code, in this order: its key does
#   not resolve (unknown_key), it does not verify (invalid), its subject does not
#   hold the role it signed as (role_not_held). Any of them denies, even for a
#   signature the lane did not need.
package release.signatures

import data.lib.trust
import rego.v1

# METADATA
# title: Signature key is not an active key of its subject
# description: >-
#   (subject, key_id) does not resolve to an active key of that subject in the
#   trust store: an unknown subject, an unknown key id, or a revoked key.
# custom:
#   code: signature.unknown_key
#   failure_msg: "signature %d by %s names key %s, which is not an active key of that subject"
#   solution: >-
#     Sign with an active key registered for this subject in the governance trust
#     store, or ask the governance owners to register the key.
deny contains violation if {
	some i, signature in input.manifest.signatures
	trust.status[i] == "unknown_key"
	msg := sprintf(
		"signature %d by %s names key %s, which is not an active key of that subject",
		[i, signature.subject, signature.key_id],
	)
	violation := data.lib.result.violation("signature.unknown_key", msg, sprintf("/signatures/%d", [i]))
}

# METADATA
# title: Signature does not verify
# description: >-
#   The key resolves but the signature does not verify over that signature's
#   approval statement (the manifest digest, the subject and the role).
# custom:
#   code: signature.invalid
#   failure_msg: "signature %d by %s as %s does not verify over its approval statement"
#   solution: >-
#     Re-sign the exact manifest as it will be submitted: any change to the
#     manifest, the subject or the role invalidates every earlier signature.
deny contains violation if {
	some i, signature in input.manifest.signatures
	trust.status[i] == "invalid"
	msg := sprintf(
		"signature %d by %s as %s does not verify over its approval statement",
		[i, signature.subject, signature.role],
	)
	violation := data.lib.result.violation("signature.invalid", msg, sprintf("/signatures/%d", [i]))
}

# METADATA
# title: Signer does not hold the role
# description: >-
#   The signature verifies, but the trust store does not give its subject the
#   role it signed as.
# custom:
#   code: signature.role_not_held
#   failure_msg: "signature %d verifies, but %s does not hold the role %s"
#   solution: >-
#     Have a signer who holds the role sign, or ask the governance owners to grant
#     the role.
deny contains violation if {
	some i, signature in input.manifest.signatures
	trust.status[i] == "verified"
	not i in trust.role_held
	msg := sprintf("signature %d verifies, but %s does not hold the role %s", [i, signature.subject, signature.role])
	violation := data.lib.result.violation("signature.role_not_held", msg, sprintf("/signatures/%d", [i]))
}
