# No single commit moves more than `max_shift` % of a route's traffic.
#
# meshcd walks a weight change step by step, but each step is judged on a few minutes of
# metrics: a commit that sends 80 % of the traffic to a new backend bets more than those
# minutes can show. Move traffic over several commits instead (e.g. 1 → 20 → 40 → 100 %, one
# review each).
#
# A plan policy (its package has a `plan` component): `input` is the plan, and
# `change.traffic.shift` is the share of a split's traffic that the commit moves, in percent.
# A route labelled `meshcd.dev/allow-large-shift: "true"` may move more (an emergency
# rollback, say); the label is read from `input.resources`.
package main.plan.traffic_shift

import rego.v1

max_shift := 20

deny contains msg if {
	some change in input.changes
	change.traffic.shift > max_shift
	not allowed(change.id)
	msg := {
		"msg": sprintf("%s moves %d %% of its traffic in one commit; at most %d %% may move at once: split the change into several commits", [change.id, change.traffic.shift, max_shift]),
		"id": change.id,
	}
}

allowed(id) if {
	some resource in input.resources
	resource.id == id
	resource.metadata.labels["meshcd.dev/allow-large-shift"] == "true"
}
