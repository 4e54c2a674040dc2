# METADATA
# title: Units
# description: >-
#   Unit conversions and the duration format of messages shared by the rules
#   (no thresholds live here). Integer arithmetic only: a remainder subtracted
#   before a division makes every division exact, so both engines compute the
#   same integers (an inexact division is a float on OPA, and %d cannot print it).
package lib.units

import rego.v1

# ns_per_second converts governance seconds to the nanoseconds of input.facts.evidence[i].age_ns.
ns_per_second := 1000000000

# whole_seconds are the seconds of a nanosecond count, truncated toward zero (fractions dropped).
# Call it by its full path, data.lib.units.whole_seconds(...) (regorus, see lib/result.rego).
whole_seconds(ns) := (ns - (ns % ns_per_second)) / ns_per_second

# duration_units name the parts of amounts(total), largest first.
duration_units := ["d", "h", "m", "s"]

# amounts splits whole seconds into [days, hours, minutes, seconds].
amounts(total) := [
	(total - (total % 86400)) / 86400,
	((total % 86400) - (total % 3600)) / 3600,
	((total % 3600) - (total % 60)) / 60,
	total % 60,
]

# duration writes whole seconds as the contract's duration (section 8): the largest
# non-zero unit, then the unit just below it unless that part is zero, the rest
# truncated. 90 is "1m 30s", 3605 is "1h", 90061 is "1d 1h"; 0 (or less) is "0s".
# Call it by its full path, data.lib.units.duration(...) (regorus, see lib/result.rego).
duration(total) := "0s" if total < 1

duration(total) := concat(" ", parts) if {
	total >= 1
	split := data.lib.units.amounts(total)
	first := min({i | some i, amount in split; amount > 0})
	parts := [sprintf("%d%s", [amount, duration_units[i]]) |
		some i, amount in split
		i - first in {0, 1}
		amount > 0
	]
}
