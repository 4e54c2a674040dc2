# METADATA
# title: Durations in messages
# description: >-
#   Every example of the contract's duration format (section 8) and its
#   boundaries, on data.lib.units. Both engines must print exactly these.
package release.units_test

import rego.v1

duration(total) := data.lib.units.duration(total)

test_duration_of_0_is_0s if duration(0) == "0s"

test_duration_of_a_negative_count_is_0s if duration(-5) == "0s"

test_duration_of_1_is_1s if duration(1) == "1s"

test_duration_of_45_is_45s if duration(45) == "45s"

test_duration_of_59_is_59s if duration(59) == "59s"

test_duration_of_60_is_1m if duration(60) == "1m"

test_duration_of_90_is_1m_30s if duration(90) == "1m 30s"

test_duration_of_3599_is_59m_59s if duration(3599) == "59m 59s"

test_duration_of_3600_is_1h if duration(3600) == "1h"

test_duration_of_3605_is_1h if duration(3605) == "1h"

test_duration_of_3661_is_1h_1m if duration(3661) == "1h 1m"

test_duration_of_21600_is_6h if duration(21600) == "6h"

test_duration_of_86399_is_23h_59m if duration(86399) == "23h 59m"

test_duration_of_86400_is_1d if duration(86400) == "1d"

test_duration_of_86460_is_1d if duration(86460) == "1d"

test_duration_of_90061_is_1d_1h if duration(90061) == "1d 1h"

test_duration_of_411054_is_4d_18h if duration(411054) == "4d 18h"

test_duration_of_2592000_is_30d if duration(2592000) == "30d"

# the largest age the gate hands the policy: 4e18 ns, clamped
test_duration_of_4000000000_is_46296d_7h if duration(4000000000) == "46296d 7h"

test_whole_seconds_of_0_is_0 if data.lib.units.whole_seconds(0) == 0

test_whole_seconds_of_999999999_ns_is_0 if data.lib.units.whole_seconds(999999999) == 0

test_whole_seconds_of_1999999999_ns_is_1 if data.lib.units.whole_seconds(1999999999) == 1

test_whole_seconds_of_negative_1500000000_ns_is_negative_1 if data.lib.units.whole_seconds(-1500000000) == -1

test_whole_seconds_of_clamped_age_is_4000000000 if data.lib.units.whole_seconds(4000000000000000000) == 4000000000

test_whole_seconds_of_one_ns_under_clamp_is_3999999999 if {
	data.lib.units.whole_seconds(3999999999999999999) == 3999999999
}
