# METADATA
# title: Units
# description: Unit conversions shared by the rules (no thresholds live here).
package lib.units

import rego.v1

# ns_per_second converts governance seconds to the nanoseconds of input.facts.evidence[i].age_ns.
ns_per_second := 1000000000
