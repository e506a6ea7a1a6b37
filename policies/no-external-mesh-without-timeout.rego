# Istio routes that serve `external-mesh` clients (Cloud Run services that joined Cloud
# Service Mesh) set a timeout on every HTTP route.
#
# Without one, a stuck backend holds the caller's request until the caller itself gives up
# (Cloud Run's request timeout defaults to 5 minutes), tying up its instances. Redirects and
# direct responses answer at once and need none. The finding points at the `http[i]` entry.
package main.external_mesh_timeout

import rego.v1

deny contains msg if {
	input.route.externalMesh
	some i, rule in input.spec.http
	not answers_itself(rule)
	not rule.timeout
	msg := {
		"msg": sprintf("http[%d] of %s serves external-mesh clients without a timeout: set `timeout` (e.g. 10s)", [i, input.id]),
		"field": sprintf("spec.http[%d]", [i]),
	}
}

answers_itself(rule) if rule.redirect
answers_itself(rule) if rule.directResponse
