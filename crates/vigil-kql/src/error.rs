//! Errors with the place in the query they are about, shown with a caret.

use std::fmt;

/// A byte range of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// The kind of a KQL error, with a stable code a person can look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not KQL (a token where another was expected).
    Syntax,
    /// A `{{Name}}` placeholder was given no value.
    MissingParameter,
    /// Valid KQL that Vigil does not run yet.
    Unsupported,
    /// A table (or tabular `let`) that does not exist.
    UnknownTable,
    /// A column (or scalar `let`) that is not in scope.
    UnknownColumn,
    /// A function that KQL does not have.
    UnknownFunction,
    /// Arguments of the wrong number or type.
    Type,
    /// The query planned but failed while running.
    Execution,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "KQL001",
            ErrorKind::MissingParameter => "KQL002",
            ErrorKind::Unsupported => "KQL003",
            ErrorKind::UnknownTable => "KQL004",
            ErrorKind::UnknownColumn => "KQL005",
            ErrorKind::UnknownFunction => "KQL006",
            ErrorKind::Type => "KQL007",
            ErrorKind::Execution => "KQL008",
        }
    }
}

/// An error in a KQL query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct KqlError {
    pub kind: ErrorKind,
    pub span: Span,
    pub message: String,
}

impl KqlError {
    pub fn syntax(span: Span, message: impl Into<String>) -> KqlError {
        KqlError {
            kind: ErrorKind::Syntax,
            span,
            message: message.into(),
        }
    }

    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> KqlError {
        KqlError {
            kind,
            span,
            message: message.into(),
        }
    }

    pub fn span(&self) -> Span {
        self.span
    }

    /// The error with the line of the query it is on and a caret under the place:
    ///
    /// ```text
    /// error[KQL001]: expected an expression, found `|`
    ///  --> line 2, column 9
    ///   |
    /// 2 | | where | project x
    ///   |         ^
    /// ```
    pub fn render(&self, query: &str) -> String {
        let start = self.span.start.min(query.len());
        let line_start = query[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = query[start..].find('\n').map_or(query.len(), |i| start + i);
        let line_no = query[..start].matches('\n').count() + 1;
        let line = &query[line_start..line_end];
        let column = query[line_start..start].chars().count() + 1;
        let end = self.span.end.min(line_end).max(start);
        let width = query[start..end].chars().count().max(1);
        let gutter = line_no.to_string().len();
        format!(
            "error[{code}]: {msg}\n{pad} --> line {line_no}, column {column}\n{pad} |\n{line_no} | {line}\n{pad} | {space}{carets}",
            code = self.kind.code(),
            msg = self.message,
            pad = " ".repeat(gutter),
            space = " ".repeat(column - 1),
            carets = "^".repeat(width),
        )
    }
}

impl fmt::Display for KqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.kind.code(),
            self.span.start,
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_under_the_span() {
        let query = "T\n| where | project x";
        let err = KqlError::syntax(Span::new(10, 11), "expected an expression, found `|`");
        let shown = err.render(query);
        assert_eq!(
            shown,
            "error[KQL001]: expected an expression, found `|`\n  --> line 2, column 9\n  |\n2 | | where | project x\n  |         ^"
        );
    }
}
