//! meshcd
