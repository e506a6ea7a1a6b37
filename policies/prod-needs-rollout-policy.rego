# A route in a production mesh changes only under a RolloutPolicy.
#
# Without one, meshcd rolls a weight change out with the default policy (10 → 50 → 100 %,
# judged on nothing but errors Envoy sees). Production routes should say how their canaries
# are judged: which metrics, which thresholds, how long each step bakes.
#
# A mesh is a production mesh when it is named in `prod_meshes`, or when the revision holds its
# Mesh resource labelled `env: prod`. A plan policy: it checks the routes the plan creates or
# updates, with `input.resources` for the meshes and `route.rolloutPolicy` (the RolloutPolicy
# meshcd found for the route, null when none selects it).
package main.plan.prod_rollout_policy

import rego.v1

prod_meshes := {"prod"}

deny contains msg if {
	some change in input.changes
	change.action != "delete"
	some resource in input.resources
	resource.id == change.id
	some mesh in resource.route.meshes
	is_prod(mesh)
	resource.route.rolloutPolicy == null
	msg := {
		"msg": sprintf("%s is in production mesh %s but no RolloutPolicy selects it: add one (by route name, hostname or label)", [change.id, mesh]),
		"id": change.id,
	}
}

is_prod(mesh) if mesh in prod_meshes

is_prod(mesh) if {
	some resource in input.resources
	resource.kind == "Mesh"
	resource.metadata.name == mesh
	resource.metadata.labels.env == "prod"
}
