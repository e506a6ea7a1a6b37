//! Output formats: text for people, Markdown for pull requests, JSON/SARIF/GitHub annotations
//! for machines.

pub mod findings_text;
pub mod github;
pub mod markdown;
pub mod plan_text;
pub mod sarif;

use std::io::IsTerminal;

/// ANSI styling, on only when writing to a terminal and `NO_COLOR` is unset.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    enabled: bool,
}

impl Style {
    /// Styling for standard output.
    pub fn for_stdout() -> Self {
        Self {
            enabled: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// No styling (files, pipes, tests).
    pub fn plain() -> Self {
        Self { enabled: false }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Red bold.
    pub fn error(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// Yellow bold.
    pub fn warning(&self, text: &str) -> String {
        self.paint("1;33", text)
    }

    /// Green.
    pub fn added(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Red.
    pub fn removed(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Cyan.
    pub fn note(&self, text: &str) -> String {
        self.paint("36", text)
    }

    /// Bold.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// `1 error`, `2 warnings`.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
