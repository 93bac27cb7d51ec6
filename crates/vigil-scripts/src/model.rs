//! The shapes of an analysis: what the engine hands back to the copilot, the CLI and tests.

use serde::Serialize;

/// The scripting language a text was written in, as far as its syntax shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Language {
    PowerShell,
    Cmd,
    JavaScript,
    VBScript,
    Bash,
    Unknown,
}

impl Language {
    pub fn name(self) -> &'static str {
        match self {
            Language::PowerShell => "PowerShell",
            Language::Cmd => "Windows command shell (cmd)",
            Language::JavaScript => "JavaScript (JScript)",
            Language::VBScript => "VBScript",
            Language::Bash => "Unix shell (bash/sh)",
            Language::Unknown => "unknown",
        }
    }
}

/// One kind of transformation that undoes an obfuscation or an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum LayerKind {
    /// `powershell -EncodedCommand <base64 of UTF-16LE>`.
    EncodedCommand,
    /// `powershell -Command "..."` or `cmd /c "..."`: the inner command taken out.
    CommandWrapper,
    Gzip,
    Deflate,
    Base64,
    Hex,
    Xor,
    CharCodes,
    Reverse,
    FormatOperator,
    Replace,
    Join,
    Concatenation,
    Substring,
    /// `Invoke-Expression`, `iex`, `&(...)`, `.(...)`, `[ScriptBlock]::Create`: the string run as code.
    InvokeExpression,
    /// Backtick escapes removed and keyword casing normalised (PowerShell).
    Backtick,
    /// Carets removed (cmd).
    Caret,
    /// `set` variables expanded (cmd).
    CmdVariables,
    /// `eval`, `Execute`, `new Function` unwrapped (JavaScript, VBScript).
    Eval,
    /// `unescape`, `decodeURIComponent` (JavaScript).
    Unescape,
    /// `base64 -d | sh`, `eval $(echo ... | base64 -d)` (Unix shell).
    ShellDecode,
}

impl LayerKind {
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::EncodedCommand => "PowerShell -EncodedCommand",
            LayerKind::CommandWrapper => "command wrapper",
            LayerKind::Gzip => "gzip decompression",
            LayerKind::Deflate => "deflate decompression",
            LayerKind::Base64 => "Base64",
            LayerKind::Hex => "hexadecimal",
            LayerKind::Xor => "XOR with a constant key",
            LayerKind::CharCodes => "character codes",
            LayerKind::Reverse => "reversed string",
            LayerKind::FormatOperator => "format operator (-f)",
            LayerKind::Replace => "replace",
            LayerKind::Join => "join",
            LayerKind::Concatenation => "string concatenation",
            LayerKind::Substring => "substring extraction",
            LayerKind::InvokeExpression => "string run as code",
            LayerKind::Backtick => "escape characters and odd casing",
            LayerKind::Caret => "cmd caret escapes",
            LayerKind::CmdVariables => "cmd variable expansion",
            LayerKind::Eval => "eval of a string",
            LayerKind::Unescape => "URL-style escapes",
            LayerKind::ShellDecode => "shell decode pipeline",
        }
    }

    /// Whether this kind hides code (T1027) rather than merely transporting it.
    pub fn is_obfuscation(self) -> bool {
        !matches!(
            self,
            LayerKind::CommandWrapper
                | LayerKind::InvokeExpression
                | LayerKind::Eval
                | LayerKind::CmdVariables
        )
    }
}

/// One decoding step the engine applied, with the text it produced.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    /// The main transformation of this step.
    pub kind: LayerKind,
    /// Other transformations folded in the same step (e.g. concatenation inside a `-f`).
    pub also: Vec<LayerKind>,
    pub description: String,
    /// The text after this step, cut to an excerpt when long.
    pub text: String,
    /// Length in bytes of the full text after this step.
    pub length: usize,
}

impl Layer {
    /// Whether this step undid obfuscation (T1027), by its main or a folded transformation.
    pub fn is_obfuscation(&self) -> bool {
        self.kind.is_obfuscation() || self.also.iter().any(|k| k.is_obfuscation())
    }

    /// Whether this step applied `kind`, as its main transformation or a folded one.
    pub fn applied(&self, kind: LayerKind) -> bool {
        self.kind == kind || self.also.contains(&kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum IndicatorKind {
    Url,
    Domain,
    Ipv4,
    Ipv6,
    Md5,
    Sha1,
    Sha256,
    FilePath,
    RegistryKey,
    Email,
}

impl IndicatorKind {
    pub fn name(self) -> &'static str {
        match self {
            IndicatorKind::Url => "URL",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Ipv4 => "IPv4",
            IndicatorKind::Ipv6 => "IPv6",
            IndicatorKind::Md5 => "MD5",
            IndicatorKind::Sha1 => "SHA-1",
            IndicatorKind::Sha256 => "SHA-256",
            IndicatorKind::FilePath => "file path",
            IndicatorKind::RegistryKey => "registry key",
            IndicatorKind::Email => "email",
        }
    }
}

/// A value worth looking for elsewhere (in logs, feeds, other devices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicator {
    pub kind: IndicatorKind,
    /// The live form (`http://evil.com/a`), for matching.
    pub value: String,
    /// The safe form (`hxxp://evil[.]com/a`), for reports and chat.
    pub defanged: String,
    /// Why this is known noise rather than attacker infrastructure, when it is.
    pub benign: Option<String>,
}

/// Something the script does, tied to a MITRE ATT&CK technique.
#[derive(Debug, Clone, Serialize)]
pub struct Behaviour {
    /// Short stable name of the rule that matched, e.g. `download`.
    pub id: String,
    pub description: String,
    pub technique_id: String,
    pub technique_name: String,
    pub tactic: String,
    /// The exact text that matched, with a little of its line around it.
    pub fragment: String,
    /// Index of the layer the fragment was found in: 0 is the input itself.
    pub layer: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RiskLevel {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub risk: RiskLevel,
    pub reasons: Vec<String>,
}

/// A KQL query over the Defender advanced-hunting tables.
#[derive(Debug, Clone, Serialize)]
pub struct HuntQuery {
    pub title: String,
    pub table: String,
    pub kql: String,
}

/// Everything the engine worked out about one script.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub language: Language,
    pub layers: Vec<Layer>,
    pub decoded: String,
    pub indicators: Vec<Indicator>,
    pub behaviours: Vec<Behaviour>,
    pub steps: Vec<String>,
    pub verdict: Verdict,
    pub hunting_queries: Vec<HuntQuery>,
    pub warnings: Vec<String>,
}

impl Analysis {
    /// The ATT&CK technique ids found, in first-seen order, without repeats.
    pub fn technique_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for b in &self.behaviours {
            if !ids.contains(&b.technique_id.as_str()) {
                ids.push(&b.technique_id);
            }
        }
        ids
    }

    /// Whether any decoding step applied `kind`.
    pub fn applied(&self, kind: LayerKind) -> bool {
        self.layers.iter().any(|l| l.applied(kind))
    }
}
