//! KQL (Kusto Query Language) for Vigil: a lexer and a parser that keep the source span
//! of everything they read, a binder that checks names against the tables an [`Engine`]
//! knows (with "did you mean" suggestions), and lowering of the query to an Apache
//! DataFusion logical plan, which DataFusion optimizes and runs.
//!
//! ```
//! let query = vigil_kql::parse("DeviceProcessEvents | where FileName =~ 'cmd.exe' | take 10")?;
//! assert_eq!(query.statements.len(), 1);
//!
//! let mut engine = vigil_kql::Engine::new();
//! engine.register_empty_catalog();
//! let planned = engine.plan("DeviceProcessEvents | summarize count() by DeviceName")?;
//! assert_eq!(planned.plan.schema().field(1).name(), "count_");
//! # Ok::<(), vigil_kql::KqlError>(())
//! ```
//!
//! Templates with `{{Name}}` placeholders (as Security Copilot plugins write them) are
//! filled in with [`substitute`] before parsing.

pub mod ast;
mod engine;
mod error;
pub mod format;
mod lexer;
mod lower;
mod parser;
mod suggest;
mod udf;

pub use engine::{Engine, Planned, Render};
pub use error::{ErrorKind, KqlError, Span};
pub use lexer::{Tok, Token, lex, timespan_ticks};
pub use parser::parse;

/// Replaces `{{Name}}` placeholders with the values given. Placeholders without a value
/// are returned as errors (all of them, in order), so a caller can ask for the inputs.
pub fn substitute(
    text: &str,
    value_of: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<KqlError>> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            break;
        };
        let name = rest[open + 2..open + 2 + close].trim();
        out.push_str(&rest[..open]);
        let span = Span::new(offset + open, offset + open + close + 4);
        let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        match value_of(name) {
            Some(value) if valid => out.push_str(&value),
            _ if !valid => out.push_str(&rest[open..open + close + 4]),
            _ => {
                missing.push(KqlError {
                    kind: ErrorKind::MissingParameter,
                    span,
                    message: format!("no value for the input {{{{{name}}}}}"),
                });
                out.push_str(&rest[open..open + close + 4]);
            }
        }
        offset += open + close + 4;
        rest = &rest[open + close + 4..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) fn lower_is_string(t: &arrow::datatypes::DataType) -> bool {
    lower::expr_is_string(t)
}

#[cfg(test)]
mod substitute_tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_or_reported() {
        let values = |name: &str| (name == "Device").then(|| "'ws1'".to_string());
        assert_eq!(
            substitute("T | where DeviceName == {{Device}}", values).unwrap(),
            "T | where DeviceName == 'ws1'"
        );
        let errors =
            substitute("T | where A == {{Device}} and B == {{ User }}", values).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, ErrorKind::MissingParameter);
        assert!(errors[0].message.contains("{{User}}"));
        assert_eq!(errors[0].span.start, 35);
    }
}
