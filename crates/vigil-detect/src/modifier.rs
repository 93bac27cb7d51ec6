//! Sigma value modifiers (`field|contains|all`), checked for the combinations the
//! specification allows.

use std::fmt;

/// One value modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Base64,
    Base64Offset,
    Utf16le,
    Utf16be,
    Wide,
    Windash,
    Re,
    /// `re` flags: `i` (ignore case), `m` (multi-line), `s` (dot matches newline).
    ReIgnoreCase,
    ReMultiLine,
    ReDotAll,
    Cidr,
    Exists,
    FieldRef,
    Gt,
    Gte,
    Lt,
    Lte,
    Cased,
    Expand,
}

impl Modifier {
    pub fn parse(name: &str) -> Option<Modifier> {
        use Modifier as M;
        Some(match name {
            "contains" => M::Contains,
            "startswith" => M::StartsWith,
            "endswith" => M::EndsWith,
            "all" => M::All,
            "base64" => M::Base64,
            "base64offset" => M::Base64Offset,
            "utf16le" => M::Utf16le,
            "utf16be" => M::Utf16be,
            "utf16" => M::Utf16le,
            "wide" => M::Wide,
            "windash" => M::Windash,
            "re" => M::Re,
            "i" => M::ReIgnoreCase,
            "m" => M::ReMultiLine,
            "s" => M::ReDotAll,
            "cidr" => M::Cidr,
            "exists" => M::Exists,
            "fieldref" => M::FieldRef,
            "gt" => M::Gt,
            "gte" => M::Gte,
            "lt" => M::Lt,
            "lte" => M::Lte,
            "cased" => M::Cased,
            "expand" => M::Expand,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use Modifier as M;
        match self {
            M::Contains => "contains",
            M::StartsWith => "startswith",
            M::EndsWith => "endswith",
            M::All => "all",
            M::Base64 => "base64",
            M::Base64Offset => "base64offset",
            M::Utf16le => "utf16le",
            M::Utf16be => "utf16be",
            M::Wide => "wide",
            M::Windash => "windash",
            M::Re => "re",
            M::ReIgnoreCase => "i",
            M::ReMultiLine => "m",
            M::ReDotAll => "s",
            M::Cidr => "cidr",
            M::Exists => "exists",
            M::FieldRef => "fieldref",
            M::Gt => "gt",
            M::Gte => "gte",
            M::Lt => "lt",
            M::Lte => "lte",
            M::Cased => "cased",
            M::Expand => "expand",
        }
    }

    fn is_position(self) -> bool {
        matches!(
            self,
            Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith
        )
    }

    fn is_comparison(self) -> bool {
        matches!(
            self,
            Modifier::Gt | Modifier::Gte | Modifier::Lt | Modifier::Lte
        )
    }

    fn is_re_flag(self) -> bool {
        matches!(
            self,
            Modifier::ReIgnoreCase | Modifier::ReMultiLine | Modifier::ReDotAll
        )
    }

    fn is_encoding(self) -> bool {
        matches!(
            self,
            Modifier::Base64
                | Modifier::Base64Offset
                | Modifier::Utf16le
                | Modifier::Utf16be
                | Modifier::Wide
        )
    }
}

/// A modifier chain the specification does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifierError(pub String);

impl fmt::Display for ModifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses the modifiers after a field name (`contains|all`) and checks that they fit
/// together.
pub fn parse_chain(parts: &[&str]) -> Result<Vec<Modifier>, ModifierError> {
    let mut out = Vec::new();
    for p in parts {
        let m = Modifier::parse(p)
            .ok_or_else(|| ModifierError(format!("unknown value modifier `{p}`")))?;
        if out.contains(&m) {
            return Err(ModifierError(format!("the modifier `{p}` is given twice")));
        }
        out.push(m);
    }
    let has = |m: Modifier| out.contains(&m);
    let positions = out.iter().filter(|m| m.is_position()).count();
    if positions > 1 {
        return Err(ModifierError(
            "only one of contains, startswith and endswith may be used".into(),
        ));
    }
    if out.iter().filter(|m| m.is_comparison()).count() > 1 {
        return Err(ModifierError(
            "only one of gt, gte, lt and lte may be used".into(),
        ));
    }
    if out.iter().any(|m| m.is_re_flag()) && !has(Modifier::Re) {
        return Err(ModifierError(
            "the flags i, m and s only apply to the `re` modifier".into(),
        ));
    }
    let standalone = [
        Modifier::Re,
        Modifier::Cidr,
        Modifier::Exists,
        Modifier::Gt,
        Modifier::Gte,
        Modifier::Lt,
        Modifier::Lte,
    ];
    for s in standalone {
        if has(s) && (positions > 0 || out.iter().any(|m| m.is_encoding())) {
            return Err(ModifierError(format!(
                "`{}` cannot be combined with string position or encoding modifiers",
                s.name()
            )));
        }
    }
    if has(Modifier::Exists) && out.len() > 1 {
        return Err(ModifierError("`exists` stands alone".into()));
    }
    if has(Modifier::Base64) && has(Modifier::Base64Offset) {
        return Err(ModifierError(
            "use either base64 or base64offset, not both".into(),
        ));
    }
    Ok(out)
}
