//! The built-in rules, one per file. [`ALL`] lists them in code order.

pub mod ambiguous_shape;
pub mod backend_unresolved;
pub mod change_window_invalid;
pub mod cloud_run_mesh_name;
pub mod cloud_run_mesh_unknown;
pub mod destination_rule_invalid;
pub mod duplicate_key;
pub mod duplicate_resource;
pub mod export_to_invalid;
pub mod external_mesh_destination_tls;
pub mod external_mesh_ignored_field;
pub mod external_mesh_namespace;
pub mod external_mesh_strict_mtls;
pub mod gateway_api_limits;
pub mod gcp_backend_name;
pub mod host_conflict;
pub mod hostname_pattern;
pub mod ineffective_match;
pub mod istio_duration_invalid;
pub mod istio_hostname_invalid;
pub mod istio_match_invalid;
pub mod istio_retry_invalid;
pub mod istio_route_invalid;
pub mod ns_duration;
pub mod ns_enum_value;
pub mod ns_field_limits;
pub mod ns_name_format;
pub mod ns_oneof;
pub mod ns_port_range;
pub mod ns_required_field;
pub mod ns_service_name;
pub mod openapi_schema;
pub mod output_only_field;
pub mod path_pattern;
pub mod peer_authentication_invalid;
pub mod redirect_with_destinations;
pub mod rollout_policy_invalid;
pub mod route_action_missing;
pub mod schema;
pub mod service_entry_invalid;
pub mod subset_missing;
pub mod tcp_match_address;
pub mod tcp_route_action;
pub mod tls_route_matches;
pub mod unknown_field;
pub mod unknown_kind;
pub mod unreachable_rule;
pub mod validation_rule;
pub mod value_range;
pub mod weight_negative;
pub mod weight_partial;
pub mod weight_range;
pub mod weight_zero_total;
pub mod workload_entry_invalid;
pub mod yaml_syntax;

use super::Rule;

/// Every built-in rule, in code order.
pub const ALL: &[&Rule] = &[
    &yaml_syntax::RULE,
    &duplicate_key::RULE,
    &unknown_kind::RULE,
    &ambiguous_shape::RULE,
    &schema::RULE,
    &unknown_field::RULE,
    &duplicate_resource::RULE,
    &openapi_schema::RULE,
    &validation_rule::RULE,
    &weight_negative::RULE,
    &weight_zero_total::RULE,
    &weight_partial::RULE,
    &weight_range::RULE,
    &host_conflict::RULE,
    &unreachable_rule::RULE,
    &ineffective_match::RULE,
    &istio_hostname_invalid::RULE,
    &istio_match_invalid::RULE,
    &istio_route_invalid::RULE,
    &istio_duration_invalid::RULE,
    &istio_retry_invalid::RULE,
    &destination_rule_invalid::RULE,
    &service_entry_invalid::RULE,
    &workload_entry_invalid::RULE,
    &peer_authentication_invalid::RULE,
    &export_to_invalid::RULE,
    &subset_missing::RULE,
    &backend_unresolved::RULE,
    &rollout_policy_invalid::RULE,
    &change_window_invalid::RULE,
    &external_mesh_ignored_field::RULE,
    &external_mesh_destination_tls::RULE,
    &external_mesh_strict_mtls::RULE,
    &external_mesh_namespace::RULE,
    &redirect_with_destinations::RULE,
    &route_action_missing::RULE,
    &value_range::RULE,
    &output_only_field::RULE,
    &ns_name_format::RULE,
    &ns_service_name::RULE,
    &ns_required_field::RULE,
    &ns_oneof::RULE,
    &ns_enum_value::RULE,
    &ns_duration::RULE,
    &ns_port_range::RULE,
    &ns_field_limits::RULE,
    &tcp_match_address::RULE,
    &cloud_run_mesh_name::RULE,
    &cloud_run_mesh_unknown::RULE,
    &gateway_api_limits::RULE,
    &hostname_pattern::RULE,
    &path_pattern::RULE,
    &tls_route_matches::RULE,
    &tcp_route_action::RULE,
    &gcp_backend_name::RULE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_sorted() {
        let mut codes: Vec<_> = ALL.iter().map(|r| r.code).collect();
        let sorted = {
            let mut c = codes.clone();
            c.sort();
            c
        };
        assert_eq!(codes, sorted, "ALL must be in code order");
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        let mut names: Vec<_> = ALL.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}
