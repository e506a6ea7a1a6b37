package main.owner_label_test

import rego.v1

import data.main.owner_label

istio_route(labels) := {
	"kind": "VirtualService",
	"id": "VirtualService/ads/ads",
	"metadata": {"name": "ads", "namespace": "ads", "labels": labels},
	"route": {"hosts": ["ads.ads.svc.cluster.local"]},
}

test_route_with_team_passes if {
	count(owner_label.deny_missing_owner) == 0 with input as istio_route({"team": "ads"})
}

test_route_with_owner_passes if {
	count(owner_label.deny_missing_owner) == 0 with input as istio_route({"owner": "jane"})
}

test_route_without_owner_is_denied if {
	findings := owner_label.deny_missing_owner with input as istio_route({"app": "ads"})
	some finding in findings
	finding.field == "metadata.labels"
	contains(finding.msg, "VirtualService/ads/ads has no owner")
}

test_empty_team_is_denied if {
	count(owner_label.deny_missing_owner) == 1 with input as istio_route({"team": ""})
}

test_non_routes_need_no_owner if {
	count(owner_label.deny_missing_owner) == 0 with input as {"kind": "Service", "id": "Service/ads/ads", "metadata": {}, "route": null}
}

test_exempt_route_is_excepted if {
	legacy := {"kind": "HTTPRoute", "id": "HTTPRoute/legacy/legacy-store", "metadata": {"labels": {}}, "route": {}}
	owner_label.exception[["missing_owner"]] with input as legacy
}
