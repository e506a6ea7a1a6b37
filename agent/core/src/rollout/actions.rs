//! What a rollout does when a step fails (`onFailure`) or its analysis cannot decide
//! (`onInconclusive`): the RolloutPolicy fields, as types.
//!
//! Both are written in lowercase in YAML, in plans and in the persisted rollouts (`rollback`,
//! `pause`, `continue`); [`FromStr`] reads exactly those words and says which are allowed
//! otherwise.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A word that is not one of an action's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} `{value}` is not one of {}", one_of(.allowed))]
pub struct UnknownAction {
    /// The field (`onFailure`, `onInconclusive`).
    pub field: &'static str,
    /// The word as written.
    pub value: String,
    /// The words the field takes.
    pub allowed: &'static [&'static str],
}

fn one_of(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What to do when a step fails: `onFailure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Return the route to the weights it had before the rollout (the default).
    #[default]
    Rollback,
    /// Hold the route at the last weights judged good and wait for an operator.
    Pause,
}

impl OnFailure {
    /// Every value, in the order messages list them.
    pub const ALL: [OnFailure; 2] = [OnFailure::Rollback, OnFailure::Pause];
    const NAMES: &'static [&'static str] = &["rollback", "pause"];

    /// The word as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Rollback => "rollback",
            OnFailure::Pause => "pause",
        }
    }
}

impl FromStr for OnFailure {
    type Err = UnknownAction;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        OnFailure::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| UnknownAction {
                field: "onFailure",
                value: text.to_string(),
                allowed: OnFailure::NAMES,
            })
    }
}

impl fmt::Display for OnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do when a step's analysis is inconclusive (too few requests by the end of its
/// bake): `onInconclusive`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInconclusive {
    /// Hold the route at the step's weights and wait for an operator (the default).
    #[default]
    Pause,
    /// Return the route to the weights it had before the rollout.
    Rollback,
    /// Take the step as passed and go on.
    Continue,
}

impl OnInconclusive {
    /// Every value, in the order messages list them.
    pub const ALL: [OnInconclusive; 3] = [
        OnInconclusive::Pause,
        OnInconclusive::Rollback,
        OnInconclusive::Continue,
    ];
    const NAMES: &'static [&'static str] = &["pause", "rollback", "continue"];

    /// The word as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            OnInconclusive::Pause => "pause",
            OnInconclusive::Rollback => "rollback",
            OnInconclusive::Continue => "continue",
        }
    }
}

impl FromStr for OnInconclusive {
    type Err = UnknownAction;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        OnInconclusive::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| UnknownAction {
                field: "onInconclusive",
                value: text.to_string(),
                allowed: OnInconclusive::NAMES,
            })
    }
}

impl fmt::Display for OnInconclusive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_back_what_they_write() {
        for action in OnFailure::ALL {
            assert_eq!(action.as_str().parse(), Ok(action));
            let json = serde_json::to_string(&action).expect("serializes");
            assert_eq!(json, format!("\"{action}\""));
            assert_eq!(serde_json::from_str::<OnFailure>(&json).ok(), Some(action));
        }
        for action in OnInconclusive::ALL {
            assert_eq!(action.as_str().parse(), Ok(action));
            let json = serde_json::to_string(&action).expect("serializes");
            assert_eq!(json, format!("\"{action}\""));
            assert_eq!(
                serde_json::from_str::<OnInconclusive>(&json).ok(),
                Some(action)
            );
        }
    }

    #[test]
    fn unknown_words_say_which_are_allowed() {
        assert_eq!(
            "rolback".parse::<OnFailure>().unwrap_err().to_string(),
            "onFailure `rolback` is not one of `rollback`, `pause`"
        );
        assert_eq!(
            "Pause".parse::<OnInconclusive>().unwrap_err().to_string(),
            "onInconclusive `Pause` is not one of `pause`, `rollback`, `continue`"
        );
    }
}
