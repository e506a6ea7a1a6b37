//! The per-route rollout state machine.
