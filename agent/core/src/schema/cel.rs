//! CEL validation rules (`x-kubernetes-validations`), evaluated as the API server does.
//!
//! `self` is the field's value after defaulting. Property names that are CEL keywords or hold
//! characters CEL cannot name are escaped the Kubernetes way (`namespace` → `__namespace__`,
//! `a-b` → `a__dash__b`). Beyond the CEL standard library and its string extension, the
//! Kubernetes functions route CRDs use are provided: `isIP`, `isCIDR`, `ip` checks.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use cel::objects::{Key, Map};
use cel::{Context, Env, Program, Value};
use serde_json::Value as Json;

/// A compiled rule.
pub struct Rule {
    /// The expression as written.
    pub source: String,
    program: Program,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cel::Rule({:?})", self.source)
    }
}

/// A rule that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("CEL rule `{source_text}` does not compile: {reason}")]
pub struct CompileError {
    /// The expression.
    pub source_text: String,
    /// Why, in the parser's words.
    pub reason: String,
}

/// Why a rule could not be decided.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EvalError {
    /// Evaluation stopped with an error (a missing field, a bad argument).
    #[error("{0}")]
    Failed(String),
    /// The rule's result is not a boolean.
    #[error("the rule evaluates to {0}, not a boolean")]
    NotBoolean(String),
}

fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // The string extension (substring, lowerAscii, split, ...) is what Kubernetes offers
        // too; declaring it twice is impossible, so an error here cannot happen.
        let _ = env.add_extension(cel::extensions::strings);
        Arc::new(env)
    })
}

impl Rule {
    /// Compiles an expression.
    pub fn compile(source: &str) -> Result<Rule, CompileError> {
        env()
            .compile(source)
            .map(|program| Rule {
                source: source.to_string(),
                program,
            })
            .map_err(|e| CompileError {
                source_text: source.to_string(),
                reason: e.to_string(),
            })
    }

    /// Evaluates the rule with `self` bound to `value`: true when the value passes.
    pub fn eval(&self, value: &Json) -> Result<bool, EvalError> {
        let mut context = Context::with_env(Arc::clone(env()));
        context.add_variable_from_value("self", to_cel(value));
        // Kubernetes' network functions; names free in the standard library.
        let _ = context.add_function("isIP", |s: Arc<String>| s.parse::<IpAddr>().is_ok());
        let _ = context.add_function("isCIDR", |s: Arc<String>| is_cidr(&s));
        match self.program.execute(&context) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(EvalError::NotBoolean(format!("{other:?}"))),
            Err(e) => Err(EvalError::Failed(e.to_string())),
        }
    }
}

fn is_cidr(text: &str) -> bool {
    let Some((ip, bits)) = text.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|b| b <= max) && !bits.starts_with('+')
}

/// CEL's reserved words: as property names they are written `__word__`.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The name a property has in CEL.
pub fn escape(name: &str) -> String {
    if RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.contains("__") {
        return name.to_string();
    }
    name.replace("__", "__underscores__")
        .replace('.', "__dot__")
        .replace('-', "__dash__")
        .replace('/', "__slash__")
}

/// Converts a JSON value to CEL, escaping property names.
fn to_cel(value: &Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::UInt))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Json::Object(fields) => {
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(k, v)| (Key::from(escape(k)), to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(rule: &str, value: Json) -> Result<bool, EvalError> {
        Rule::compile(rule)
            .map_err(|e| EvalError::Failed(e.to_string()))?
            .eval(&value)
    }

    #[test]
    fn evaluates_kubernetes_style_rules() {
        let rule = "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true";
        assert!(!eval(rule, json!({"group": "", "kind": "Service", "name": "a"})).unwrap());
        assert!(eval(rule, json!({"group": "", "kind": "Service", "port": 80})).unwrap());
        let ns = "has(self.__namespace__) ? self.__namespace__ != '' : true";
        assert!(!eval(ns, json!({"namespace": ""})).unwrap());
        assert!(eval(ns, json!({})).unwrap());
        assert!(!eval("self.all(h, !isIP(h))", json!(["a.b", "10.0.0.1"])).unwrap());
        assert!(eval("self.substring(2).startsWith('b')", json!("*.b.c")).unwrap());
        assert!(eval(
            "self.filter(f, f.type == 'CORS').size() <= 1",
            json!([{"type": "CORS"}, {"type": "X"}])
        )
        .unwrap());
        assert!(!eval(
            "duration(self.backendRequest) <= duration(self.request)",
            json!({"request": "1s", "backendRequest": "2s"})
        )
        .unwrap());
    }

    #[test]
    fn errors_are_reported_not_panics() {
        assert!(Rule::compile("self.(").is_err());
        assert!(matches!(
            eval("self.missing == 1", json!({})),
            Err(EvalError::Failed(_))
        ));
        assert!(matches!(
            eval("1 + 1", json!({})),
            Err(EvalError::NotBoolean(_))
        ));
    }

    #[test]
    fn escapes_names_as_kubernetes_does() {
        assert_eq!(escape("namespace"), "__namespace__");
        assert_eq!(escape("x-y.z/w"), "x__dash__y__dot__z__slash__w");
        assert_eq!(escape("a__b"), "a__underscores__b");
        assert_eq!(escape("port"), "port");
    }
}
