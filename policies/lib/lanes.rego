# METADATA
# title: Lane lookup
# description: >-
#   The governance lane the manifest asks for. Rules that need the lane read
#   lanes.lane; when the lane is unknown it is undefined, so those rules are
#   skipped and only lane.unknown reports on it.
package lib.lanes

import rego.v1

# lane_id is the lane the manifest is released into.
lane_id := input.manifest.lane

# lane is the governance entry of that lane (undefined when unknown).
lane := data.governance.lanes[lane_id]

# known holds when the governance data defines the requested lane.
known if lane_id in object.keys(data.governance.lanes)
