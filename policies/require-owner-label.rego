# Every route says which team owns it, so a failing canary or a page at 3 am reaches someone.
#
# A route (any family) needs a non-empty `owner` or `team` label: `metadata.labels` for Istio
# and Gateway API, `labels` for networkservices. The finding points at the labels (or the
# document when it has none).
#
# Exceptions, conftest style: routes listed in `exempt` skip `deny_missing_owner` (the
# `exception` rule names the part after `deny_`).
package main.owner_label

import rego.v1

# Labels that name an owner.
owner_labels := {"owner", "team"}

# Routes allowed to have no owner, by `input.id` (Kind/name or Kind/namespace/name).
exempt := {"HTTPRoute/legacy/legacy-store"}

deny_missing_owner contains msg if {
	input.route != null
	not has_owner
	msg := {
		"msg": sprintf("%s has no owner: add a label %s", [input.id, concat(" or ", sort(owner_labels))]),
		"field": "metadata.labels",
	}
}

has_owner if {
	some label in owner_labels
	input.metadata.labels[label] != ""
}

exception contains rules if {
	input.id in exempt
	rules := ["missing_owner"]
}
