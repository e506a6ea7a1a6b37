package main.plan.prod_rollout_policy_test

import rego.v1

import data.main.plan.prod_rollout_policy

route(meshes, policy) := {
	"kind": "HttpRoute",
	"id": "HttpRoute/web",
	"metadata": {"name": "web", "labels": {}},
	"route": {"meshes": meshes, "rolloutPolicy": policy},
}

mesh(name, labels) := {"kind": "Mesh", "id": sprintf("Mesh/%s", [name]), "metadata": {"name": name, "labels": labels}, "route": null}

plan(action, resources) := {
	"changes": [{"action": action, "id": "HttpRoute/web"}],
	"resources": resources,
}

test_prod_route_with_policy_passes if {
	count(prod_rollout_policy.deny) == 0 with input as plan("update", [route(["prod"], "web-canary")])
}

test_prod_route_without_policy_is_denied if {
	findings := prod_rollout_policy.deny with input as plan("create", [route(["prod"], null)])
	some finding in findings
	finding.id == "HttpRoute/web"
}

test_mesh_labelled_prod_counts if {
	resources := [route(["mesh"], null), mesh("mesh", {"env": "prod"})]
	count(prod_rollout_policy.deny) == 1 with input as plan("update", resources)
}

test_staging_route_passes if {
	resources := [route(["staging"], null), mesh("staging", {"env": "staging"})]
	count(prod_rollout_policy.deny) == 0 with input as plan("update", resources)
}

test_deletes_pass if {
	count(prod_rollout_policy.deny) == 0 with input as plan("delete", [])
}
