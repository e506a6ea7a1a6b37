package main.external_mesh_timeout_test

import rego.v1

import data.main.external_mesh_timeout

route(external, http) := {
	"kind": "VirtualService",
	"id": "VirtualService/ads/ads",
	"spec": {"http": http},
	"route": {"externalMesh": external},
}

forward := {"route": [{"destination": {"host": "ads.ads.svc.cluster.local"}}]}

test_external_mesh_with_timeouts_passes if {
	count(external_mesh_timeout.deny) == 0 with input as route(true, [object.union(forward, {"timeout": "5s"})])
}

test_external_mesh_without_timeout_is_denied if {
	http := [object.union(forward, {"timeout": "5s"}), forward]
	findings := external_mesh_timeout.deny with input as route(true, http)
	some finding in findings
	finding.field == "spec.http[1]"
}

test_redirects_need_no_timeout if {
	count(external_mesh_timeout.deny) == 0 with input as route(true, [{"redirect": {"uri": "/new"}}])
}

test_in_cluster_routes_need_no_timeout if {
	count(external_mesh_timeout.deny) == 0 with input as route(false, [forward])
}
