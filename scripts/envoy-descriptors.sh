#!/usr/bin/env bash
# Regenerates agent/src/xds/envoy-descriptors.bin: the protobuf descriptors of the Envoy v3 types
# meshcd's xDS server encodes (listeners, clusters, route configurations and the filters they
# embed), compiled from the .proto files that the `envoy-types` crate ships, without comments
# (no --include-source-info). Run it after changing the `envoy-types` version or when the Envoy
# translation starts emitting a new `@type`; `cargo test xds::encode` says when it is needed.
#
# Needs protox, a pure-Rust protobuf compiler: `cargo install protox --features bin`.
set -euo pipefail
cd "$(dirname "$0")/.."
protox=${PROTOX:-$(command -v protox || echo /work/tools/protox/bin/protox)}
manifest=$(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys
meta = json.load(sys.stdin)
print(next(p["manifest_path"] for p in meta["packages"] if p["name"] == "envoy-types"))')
proto=$(dirname "$manifest")/proto
roots=(
  envoy/config/listener/v3/listener.proto
  envoy/config/cluster/v3/cluster.proto
  envoy/config/route/v3/route.proto
  envoy/config/endpoint/v3/endpoint.proto
  envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto
  envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto
  envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto
  envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.proto
  envoy/extensions/filters/udp/udp_proxy/v3/route.proto
  envoy/extensions/filters/http/router/v3/router.proto
  envoy/extensions/filters/http/fault/v3/fault.proto
  envoy/extensions/filters/http/cors/v3/cors.proto
  envoy/extensions/filters/http/stateful_session/v3/stateful_session.proto
  envoy/extensions/http/stateful_session/cookie/v3/cookie.proto
  envoy/extensions/http/stateful_session/header/v3/header.proto
  envoy/extensions/filters/network/direct_response/v3/config.proto
  envoy/extensions/upstreams/http/v3/http_protocol_options.proto
)
"$protox" --include-imports -o agent/src/xds/envoy-descriptors.bin \
  -I "$proto/data-plane-api" -I "$proto/xds" -I "$proto/protoc-gen-validate" \
  -I "$proto/googleapis" -I "$proto/cel-spec/proto" -I "$proto/opentelemetry-proto" \
  -I "$proto/client_model" "${roots[@]}"
ls -l agent/src/xds/envoy-descriptors.bin
