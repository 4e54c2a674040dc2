# METADATA
# title: Lane scope
# description: >-
#   The manifest names a lane the governance data defines, and asks only for the
#   audience and actions that lane allows. A lane is bounded by its
#   allowed_audience and allowed_actions alone.
package release.lane

import data.lib.lanes
import rego.v1

# METADATA
# title: Unknown lane
# description: >-
#   The lane is not in the governance data. Rules that need the lane are skipped;
#   every other rule still reports.
# custom:
#   code: lane.unknown
#   failure_msg: "lane %s is not defined in the governance data"
#   solution: Release into a lane the governance data defines.
deny contains violation if {
	not lanes.known
	msg := sprintf("lane %s is not defined in the governance data", [lanes.lane_id])
	violation := data.lib.result.violation("lane.unknown", msg, "/lane")
}

# METADATA
# title: Audience outside the lane
# description: An audience entry the lane does not allow.
# custom:
#   code: lane.audience_out_of_scope
#   failure_msg: "audience %s is not allowed in lane %s"
#   solution: Remove the audience entry, or release into a lane that allows it.
deny contains violation if {
	allowed := lanes.lane.allowed_audience
	some i, audience in input.manifest.audience
	not audience in allowed
	msg := sprintf("audience %s is not allowed in lane %s", [audience, lanes.lane_id])
	violation := data.lib.result.violation("lane.audience_out_of_scope", msg, sprintf("/audience/%d", [i]))
}

# METADATA
# title: Action outside the lane
# description: A requested action the lane does not allow.
# custom:
#   code: lane.action_out_of_scope
#   failure_msg: "action %s is not allowed in lane %s"
#   solution: Remove the action, or release into a lane that allows it.
deny contains violation if {
	allowed := lanes.lane.allowed_actions
	some i, action in input.manifest.requested_actions
	not action in allowed
	msg := sprintf("action %s is not allowed in lane %s", [action, lanes.lane_id])
	violation := data.lib.result.violation("lane.action_out_of_scope", msg, sprintf("/requested_actions/%d", [i]))
}
