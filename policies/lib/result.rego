# METADATA
# title: Violation builder
# description: >-
#   Builds the {code, message, path} objects every deny and warn rule returns.
#   The embedded engine has no rego.metadata.chain(), so rules pass their code
#   and rendered custom.failure_msg here instead of reading their own metadata.
package lib.result

import rego.v1

# violation is one entry of decision.violations (or warnings): path is a JSON
# Pointer into the manifest, "" for the whole manifest. Call it by its full
# path, data.lib.result.violation(...): regorus 0.9 does not resolve function
# calls through an import alias.
violation(code, message, path) := {"code": code, "message": message, "path": path}

# staged_violation is violation() for a deny rule whose METADATA has custom.effective_on,
# passed here as the same RFC 3339 text: the entry point (release/gate.rego) reports the
# finding as a warning while the evaluation time is before that instant, and as a violation
# from it on. The gate refuses a bundle whose rule and METADATA disagree on the instant.
staged_violation(code, message, path, effective_on) := {
	"code": code,
	"message": message,
	"path": path,
	"effective_on": effective_on,
}
