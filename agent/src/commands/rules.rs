//! `meshcd rules`: the built-in rules and their codes.

use meshcd_core::policy::rules::ALL;
use serde_json::json;

use crate::cli::{PlanFormat, RulesArgs};

/// Prints the rules; always exits 0.
pub fn run(args: &RulesArgs) -> u8 {
    match args.format {
        PlanFormat::Text => {
            for rule in ALL {
                println!("{}  {:<32} {}", rule.code, rule.name, rule.summary);
            }
        }
        PlanFormat::Json => {
            let rules: Vec<_> = ALL
                .iter()
                .map(|r| json!({"code": r.code, "name": r.name, "summary": r.summary}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "rules": rules })).unwrap_or_default()
            );
        }
    }
    0
}
