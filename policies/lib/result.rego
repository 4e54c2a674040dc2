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
