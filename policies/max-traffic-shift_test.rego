package main.plan.traffic_shift_test

import rego.v1

import data.main.plan.traffic_shift

plan(shift, labels) := {
	"changes": [{
		"action": "update",
		"id": "HttpRoute/web",
		"kind": "HttpRoute",
		"name": "web",
		"traffic": {"shift": shift, "maxStep": shift},
	}],
	"resources": [{"id": "HttpRoute/web", "metadata": {"name": "web", "labels": labels}}],
}

test_small_shift_passes if {
	count(traffic_shift.deny) == 0 with input as plan(20, {})
}

test_large_shift_is_denied if {
	findings := traffic_shift.deny with input as plan(49, {})
	some finding in findings
	finding.id == "HttpRoute/web"
	contains(finding.msg, "moves 49 % of its traffic")
}

test_label_allows_large_shift if {
	count(traffic_shift.deny) == 0 with input as plan(99, {"meshcd.dev/allow-large-shift": "true"})
}

test_changes_without_rollout_pass if {
	count(traffic_shift.deny) == 0 with input as {"changes": [{"action": "create", "id": "HttpRoute/web", "traffic": null}], "resources": []}
}
