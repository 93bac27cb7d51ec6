//! The deterministic planner: which skill answers a prompt, with which inputs.
//!
//! Skills are scored against the prompt by the words they share with the skill's name,
//! description and example prompts, weighted by how rare each word is across skills,
//! plus cues from grounding (an incident number favours the incident skills, a pasted
//! query favours running it). Inputs are filled from grounding by their kind. A prompt
//! that starts with `/name` runs that skill directly. Compound prompts ("… and then …")
//! are split into steps.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::embed::{EmbedError, Embedder, SkillIndex};
use crate::grounding::{EntityKind, Grounding};
use crate::skill::{InputKind, Inputs, SkillSpec};
use crate::skills::Registry;

/// One planned skill call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub skill: String,
    pub inputs: Inputs,
    /// The part of the prompt this step answers.
    pub prompt: String,
    /// How well the skill matched; infinite for a skill asked for by name (stored as
    /// null, since JSON has no infinity).
    #[serde(deserialize_with = "score_or_infinite")]
    pub score: f64,
    /// Why this skill: the words and cues that chose it.
    pub reason: String,
}

fn score_or_infinite<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("there is no skill named {0} (`vigil skills list` shows them)")]
    UnknownSkill(String),
    #[error("the prompt is empty")]
    Empty,
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a bad one is a bug caught by every test.
    Regex::new(pattern).unwrap_or_else(|e| panic!("planner pattern {pattern:?}: {e}"))
}

static SPLIT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\s*(?:;\s*|,?\s+and then\s+|,?\s+then\s+|\.\s+(?:then|also|and)\s+|,?\s+after that,?\s+)",
    )
});

const STOP: &[&str] = &[
    "a", "an", "the", "of", "on", "in", "to", "for", "by", "at", "is", "it", "me", "my", "and",
    "or", "with", "from", "this", "that", "these", "those", "be", "was", "were", "are", "i", "we",
    "our", "us", "you", "please", "can", "could", "would", "do", "does", "did", "any", "all",
    "there", "their", "its", "as", "into", "about", "what", "which", "who", "how",
];

/// Lower-cased words without stop words, crudely stemmed so that "incidents" meets
/// "incident" and "copied" meets "copy".
pub fn terms(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .flat_map(|w| w.split('_'))
        .filter(|w| !w.is_empty() && !STOP.contains(w))
        .map(stem)
        .collect()
}

fn stem(word: &str) -> String {
    let w = word;
    for (suffix, keep) in [
        ("ies", "y"),
        ("ied", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.len() >= 3
        {
            return format!("{base}{keep}");
        }
    }
    w.to_string()
}

/// The planner over one registry's skills.
pub struct Planner {
    /// Per skill: its description terms and each example's terms.
    docs: Vec<(String, BTreeSet<String>, Vec<BTreeSet<String>>)>,
    idf: HashMap<String, f64>,
    /// The skills' descriptions and examples embedded once, when a model is configured.
    semantic: Option<SkillIndex>,
}

/// What the best cosine between a prompt and a skill's texts (at most 1) adds to the
/// skill's score (word weights plus cues of 1.5 to 6). Measured over the planning table
/// and the CLI's NL-to-KQL questions: every case stays right up to 3; one goes wrong at 4.
const SEMANTIC_WEIGHT: f64 = 2.0;

/// Cues that favour a skill beyond its words: (skill, pattern over the lower-cased
/// prompt, weight).
const CUES: &[(&str, &str, f64)] = &[
    (
        "summarize_incident",
        r"\b(summar|investigat|what happened in|tell me about|timeline|details of|explain|report on|walk me through)",
        3.0,
    ),
    (
        "list_incidents",
        r"\bincidents\b|incident queue|\bqueue\b",
        2.5,
    ),
    (
        "lookup_entity",
        r"\b(look ?up|what do (we|you) know|tell me about|have we seen|seen before|in our environment|where (does|did|has) .{0,40} appear|who is|profile of|anything on)\b",
        3.0,
    ),
    (
        "hunt_sigma",
        r"\bsigma\b|\bdetection rules?\b|\brules? (for|fire|fired)\b|\bhunt (for|with)\b",
        3.0,
    ),
    (
        "describe_table",
        r"\b(describe|schema|columns?|fields?|what is in|what's in|what does .{0,30} (hold|contain))\b",
        2.5,
    ),
    (
        "run_kql",
        r"^\s*(run|execute)\b.{0,20}\b(kql|query)\b|\bkql:\s",
        3.0,
    ),
    (
        "analyze_script",
        r"\b(analy[sz]e|deobfuscate|decode|explain|unpack)\b.{0,30}\b(script|command|powershell|payload|macro|one-?liner|code|cmd)\b|\bwhat does this (script|command|code)|\bis this (script|command) (malicious|bad|safe)|\s-e(nc|ncodedcommand)?\s+[A-Za-z0-9+/=]{20,}",
        4.0,
    ),
    (
        "incident_report",
        r"\breport\b|\bexecutive summary\b|\bfor (the )?(executives?|leadership|management|the board)\b",
        5.0,
    ),
    (
        "device_primary_user",
        r"\bprimary user\b|\bwho (owns|uses|is assigned)\b|\bowner of\b|\bassigned user\b",
        5.0,
    ),
    (
        "device_groups",
        r"\bgroups? (is|are|does)\b.{0,60}\b(in|belong|member)|\bgroup memberships?\b|\bmember(ship)?s? of\b.{0,30}\bgroups?\b|\bwhich groups?\b",
        4.0,
    ),
    (
        "device_managed_apps",
        r"\bmanaged (apps?|applications?)\b|\bintune apps?\b|\bapps? (does intune|deployed)\b|\bapp installs?\b",
        4.0,
    ),
    (
        "compare_device_configuration",
        r"\bcompare\b|\bdiffer(s|ent|ence|ences)?\b.{0,60}\b(config|configuration|settings?|devices?)\b|\b(config|configuration|settings?)\b.{0,60}\bdiffer",
        4.0,
    ),
    (
        "nl_to_kql",
        r"^(which|how many|show|list|find|get|were there|did any|has any|count|top)\b|\b(generate|write|build|create) (a |the )?(kql|hunting)?\s?query\b",
        1.5,
    ),
];

static ACTIVITY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\bwhat (else )?happened (on|to|with)\b|\bwhat else did\b|\bactivity (on|of|by)\b")
});
static RAN_WHERE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(where|on which (devices?|hosts?|machines?)) (did|does|has|have|was|were)\b.{0,80}\b(run|ran|execut|launch|start|open)",
    )
});
static YES_NO: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(is|are|was|were|has|have|did|do|does) (any|there|anyone|anybody|a|an)\b")
});
static SIGMA: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bsigma\b|\brules?\b|\bdetections?\b|\bhunt\b"));
/// Skills that answer one narrow question and need their cue to run.
const NARROW: &[&str] = &[
    "device_primary_user",
    "device_groups",
    "device_managed_apps",
    "compare_device_configuration",
    "incident_report",
];

/// "alert va12ab34cd", "alert id 5f3c…": the id after the word alert.
static ALERT_ID: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\balert\s+(?:id\s+)?#?([a-z0-9][a-z0-9_-]{5,})\b"));

static INCIDENTS: LazyLock<Regex> = LazyLock::new(|| re(r"\bincidents?\b"));

static CUE_RES: LazyLock<Vec<(&'static str, Regex, f64)>> = LazyLock::new(|| {
    CUES.iter()
        .map(|(skill, pattern, weight)| (*skill, re(pattern), *weight))
        .collect()
});

impl Planner {
    pub fn new(registry: &Registry) -> Planner {
        let mut docs = Vec::new();
        let mut df: HashMap<String, usize> = HashMap::new();
        for spec in registry.specs() {
            let mut description: BTreeSet<String> = terms(&spec.description).into_iter().collect();
            description.extend(terms(&spec.name));
            let examples: Vec<BTreeSet<String>> = spec
                .examples
                .iter()
                .map(|e| terms(e).into_iter().collect())
                .collect();
            let all: BTreeSet<&String> = description
                .iter()
                .chain(examples.iter().flatten())
                .collect();
            for t in all {
                *df.entry(t.clone()).or_default() += 1;
            }
            docs.push((spec.name.clone(), description, examples));
        }
        let n = docs.len().max(1) as f64;
        let idf = df
            .into_iter()
            .map(|(t, d)| (t, (1.0 + n / d as f64).ln()))
            .collect();
        Planner {
            docs,
            idf,
            semantic: None,
        }
    }

    /// A planner that also matches prompts to skills by meaning, with `embedder`.
    pub fn with_embeddings(
        registry: &Registry,
        embedder: Option<std::sync::Arc<Embedder>>,
    ) -> Result<Planner, EmbedError> {
        let mut planner = Planner::new(registry);
        if let Some(e) = embedder {
            planner.semantic = Some(SkillIndex::build(e, registry.specs())?);
        }
        Ok(planner)
    }

    /// The embedding model, when the planner has one.
    pub fn embedder(&self) -> Option<&std::sync::Arc<Embedder>> {
        self.semantic.as_ref().map(SkillIndex::embedder)
    }

    /// Splits a compound prompt into the prompts of its steps.
    pub fn split(prompt: &str) -> Vec<String> {
        // A slash command or a query is one step: `;` and "then" belong to it.
        if prompt.trim_start().starts_with('/') || looks_like_kql(prompt) {
            return vec![prompt.trim().to_string()];
        }
        SPLIT
            .split(prompt)
            .map(|p| p.trim().trim_end_matches(['.', '?']).trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// Scores of every skill for a prompt, best first.
    pub fn scores(&self, prompt: &str, g: &Grounding) -> Vec<(String, f64, String)> {
        let words: BTreeSet<String> = terms(prompt).into_iter().collect();
        let lower = prompt.to_lowercase();
        let closest = self.semantic.as_ref().and_then(|s| {
            s.closest(&as_kinds(prompt, g))
                .inspect_err(|e| tracing::warn!("planning by words only: {e}"))
                .ok()
        });
        let mut out = Vec::new();
        for (name, description, examples) in &self.docs {
            let weight = |set: &BTreeSet<String>| -> f64 {
                words
                    .iter()
                    .filter(|w| set.contains(*w))
                    .map(|w| self.idf.get(w).copied().unwrap_or(0.0))
                    .sum()
            };
            let best_example = examples.iter().map(&weight).fold(0.0, f64::max);
            let mut score = 0.6 * weight(description) + best_example;
            let mut why = Vec::new();
            let shared: Vec<&String> = words
                .iter()
                .filter(|w| description.contains(*w) || examples.iter().any(|e| e.contains(*w)))
                .collect();
            if !shared.is_empty() {
                why.push(format!(
                    "shares {}",
                    shared
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for (skill, cue, w) in CUE_RES.iter() {
                if skill == name && cue.is_match(&lower) {
                    score += w;
                    why.push(format!(
                        "cue /{}/",
                        cue.as_str().chars().take(24).collect::<String>()
                    ));
                }
            }
            if let Some(&(similarity, text)) = closest.as_ref().and_then(|c| c.get(name.as_str())) {
                score += SEMANTIC_WEIGHT * f64::from(similarity);
                if similarity >= 0.5 {
                    why.push(format!("close in meaning to {text:?} ({similarity:.2})"));
                }
            }
            score += grounding_bonus(name, g, &lower, &mut why);
            // Skills about one narrow question run only when it is asked.
            let narrow = CUE_RES.iter().filter(|(skill, ..)| skill == name);
            let mut narrow = narrow.peekable();
            if NARROW.contains(&name.as_str())
                && narrow.peek().is_some()
                && !narrow.any(|(_, cue, _)| cue.is_match(&lower))
            {
                score -= 3.0;
                why.push("not asked for".into());
            }
            out.push((name.clone(), score, why.join("; ")));
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Plans one step for one prompt.
    pub fn plan_step(
        &self,
        registry: &Registry,
        prompt: &str,
        g: &Grounding,
    ) -> Result<Step, PlanError> {
        let prompt = prompt.trim();
        if prompt.is_empty() {
            return Err(PlanError::Empty);
        }
        if let Some(rest) = prompt.strip_prefix('/') {
            let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let skill = registry
                .get(name)
                .ok_or_else(|| PlanError::UnknownSkill(name.to_string()))?;
            let spec = skill.spec();
            let args = args.trim();
            let mut inputs = direct_inputs(spec, args);
            fill(spec, &mut inputs, g, args);
            // Words that gave no typed input go to the first required one as written.
            if let Some(first) = spec.inputs.iter().find(|i| i.required)
                && !inputs.contains_key(&first.name)
                && !args.is_empty()
            {
                inputs.insert(first.name.clone(), args.to_string());
            }
            return Ok(Step {
                skill: spec.name.clone(),
                inputs,
                prompt: prompt.to_string(),
                score: f64::INFINITY,
                reason: "asked for by name".into(),
            });
        }
        let scores = self.scores(prompt, g);
        let (name, score, reason) = scores
            .into_iter()
            .next()
            .unwrap_or_else(|| ("nl_to_kql".into(), 0.0, "no skill scored".into()));
        let skill = registry
            .get(&name)
            .ok_or_else(|| PlanError::UnknownSkill(name.clone()))?;
        let mut inputs = Inputs::new();
        fill(skill.spec(), &mut inputs, g, prompt);
        Ok(Step {
            skill: name,
            inputs,
            prompt: prompt.to_string(),
            score,
            reason,
        })
    }
}

/// The prompt with the names and addresses grounding found written as their kind ("the
/// device"), for the embedding model: a device name says nothing about the skill wanted,
/// yet it makes a prompt look like the examples that happen to name a device.
fn as_kinds(prompt: &str, g: &Grounding) -> String {
    let mut out: Vec<String> = Vec::new();
    for token in prompt.split_whitespace() {
        let core = token.trim_matches(|c: char| ",.;:!?()'\"`".contains(c));
        let plain = core
            .replace("[.]", ".")
            .replace("hxxp", "http")
            .to_lowercase();
        let kind = g.entities.iter().find_map(|e| {
            let value = e.value.to_lowercase();
            let short = e.kind == EntityKind::Device && value.split('.').next() == Some(&*plain);
            let kind = match e.kind {
                EntityKind::Device => "the device",
                EntityKind::User | EntityKind::Email => "the user",
                EntityKind::Ipv4 | EntityKind::Ipv6 => "the IP address",
                EntityKind::Md5 | EntityKind::Sha1 | EntityKind::Sha256 => "the file hash",
                EntityKind::Domain => "the domain",
                EntityKind::Url => "the URL",
                EntityKind::FilePath => "the file",
                EntityKind::RegistryKey => "the registry key",
                // Incident numbers, techniques and CVEs do say what is wanted.
                EntityKind::Incident | EntityKind::Technique | EntityKind::Cve => return None,
            };
            (!plain.is_empty() && (plain == value || short)).then_some(kind)
        });
        out.push(kind.map_or_else(|| token.to_string(), |k| token.replace(core, k)));
    }
    out.join(" ")
}

/// What grounding says about a skill: an incident number favours the incident skills, a
/// named table the table skill, a prompt that is a KQL query running it.
fn grounding_bonus(skill: &str, g: &Grounding, lower: &str, why: &mut Vec<String>) -> f64 {
    let has_incident = g.first(EntityKind::Incident).is_some();
    let has_entity = g.all_entities().any(|e| {
        !matches!(
            e.kind,
            EntityKind::Incident | EntityKind::Technique | EntityKind::Cve
        )
    });
    let mut bonus = 0.0;
    let mut add = |w: f64, what: &str| {
        bonus += w;
        why.push(what.to_string());
    };
    match skill {
        "summarize_incident" if has_incident => add(3.0, "an incident number"),
        "incident_report" if !has_incident => add(-3.0, "no incident number"),
        "summarize_incident" => add(-3.0, "no incident number"),
        "nl_to_kql" if ACTIVITY.is_match(lower) => add(2.0, "asks for activity"),
        "list_incidents" if has_incident => add(-3.0, "one incident, not a list"),
        "list_incidents" if !INCIDENTS.is_match(lower) => add(-2.0, "no incidents asked for"),
        "nl_to_kql" if g.first(EntityKind::Cve).is_some() => add(1.0, "a CVE to look for"),
        "nl_to_kql" if YES_NO.is_match(lower) => add(1.5, "a yes/no question about the data"),
        "list_incidents" if g.severity.is_some() && lower.contains("incident") => {
            add(1.5, "a severity of incidents")
        }
        "run_kql" if looks_like_kql(&g.prompt) => add(6.0, "the prompt is a KQL query"),
        "run_kql" => add(-4.0, "no query in the prompt"),
        "describe_table" if !g.tables.is_empty() => add(1.5, "a table is named"),
        "describe_table" if g.tables.is_empty() => add(-2.0, "no table named"),
        "lookup_entity" if !has_entity => add(-3.0, "no entity to look up"),
        "lookup_entity" if RAN_WHERE.is_match(lower) => add(-2.0, "asks where something ran"),
        "nl_to_kql" if RAN_WHERE.is_match(lower) => add(2.0, "asks where something ran"),
        "analyze_script" if script_part(&g.prompt).is_none() && !lower.contains("alert") => {
            add(-3.0, "no script or alert given")
        }
        "lookup_entity" if g.time.is_some() => add(-1.0, "a time range asks for events"),
        "hunt_sigma" if g.first(EntityKind::Technique).is_some() => add(2.0, "an ATT&CK id"),
        "hunt_sigma" if !SIGMA.is_match(lower) => {
            add(-3.0, "no technique, rule or detection named")
        }
        "nl_to_kql" if g.time.is_some() => add(1.0, "a time range"),
        "nl_to_kql" if INCIDENTS.is_match(lower) => add(-2.5, "incidents have their own skills"),
        "device_primary_user"
        | "device_groups"
        | "device_managed_apps"
        | "compare_device_configuration"
            if g.first(EntityKind::Device).is_none() =>
        {
            add(-3.0, "no device named")
        }
        "compare_device_configuration" if g.of_kind(EntityKind::Device).count() < 2 => {
            add(-2.0, "one device, nothing to compare it with")
        }
        _ => {}
    }
    bonus
}

/// A query pasted as a prompt, alone or after some words ("Run this KQL: T | take 3",
/// "Can you run this for me? T | …"): a catalog table (or `union`, `let`, `print`)
/// followed by a pipe.
pub fn looks_like_kql(text: &str) -> bool {
    kql_start(text).is_some()
}

/// Where the query in a prompt starts.
fn kql_start(text: &str) -> Option<usize> {
    let catalog = vigil_schema::Catalog::builtin();
    let mut offset = 0;
    for piece in text.split_inclusive(|c: char| c.is_whitespace() || c == ':' || c == '`') {
        let word = piece.trim_end_matches(|c: char| c.is_whitespace() || c == ':' || c == '`');
        let start = offset;
        offset += piece.len();
        let starts = catalog.table(word).is_some()
            || matches!(word, "union" | "let" | "print" | "datatable" | "range");
        if starts {
            let rest = &text[start..];
            if rest.contains('|') || word == "print" {
                return Some(start);
            }
        }
    }
    None
}

/// The query in a prompt.
fn kql_part(text: &str) -> &str {
    let t = text.trim();
    let t = match kql_start(t) {
        Some(i) => &t[i..],
        None => t,
    };
    t.trim().trim_end_matches("```").trim()
}

/// The words of `/skill` arguments: split at spaces, except inside double quotes
/// (`reason="asked by email"` is one word).
fn argument_words(args: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `key=value` pairs after `/skill` (all the words must be pairs; a value with spaces is
/// quoted).
fn direct_inputs(spec: &SkillSpec, args: &str) -> Inputs {
    let mut inputs = Inputs::new();
    let owned = argument_words(args);
    let words: Vec<&str> = owned.iter().map(String::as_str).collect();
    let pairs: Vec<(&str, &str)> = words
        .iter()
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| spec.inputs.iter().any(|i| i.name == *k))
        .collect();
    if !pairs.is_empty() && pairs.len() == words.len() {
        for (k, v) in pairs {
            inputs.insert(k.to_string(), v.trim_matches('"').to_string());
        }
    }
    inputs
}

/// Fills the inputs not yet given from grounding, by kind.
fn fill(spec: &SkillSpec, inputs: &mut Inputs, g: &Grounding, prompt: &str) {
    for input in &spec.inputs {
        if inputs.contains_key(&input.name) {
            continue;
        }
        let value = match input.kind {
            InputKind::Kql => looks_like_kql(prompt).then(|| kql_part(prompt).to_string()),
            InputKind::Incident => g.first(EntityKind::Incident).map(str::to_string),
            InputKind::Entity => {
                let order = [
                    EntityKind::Device,
                    EntityKind::User,
                    EntityKind::Ipv4,
                    EntityKind::Ipv6,
                    EntityKind::Sha256,
                    EntityKind::Sha1,
                    EntityKind::Md5,
                    EntityKind::Domain,
                    EntityKind::Url,
                    EntityKind::Email,
                    EntityKind::FilePath,
                    EntityKind::RegistryKey,
                ];
                let found = order.iter().find_map(|k| g.of_kind(*k).next().cloned());
                if let Some(e) = &found
                    && spec.inputs.iter().any(|i| i.name == "kind")
                    && !inputs.contains_key("kind")
                {
                    inputs.insert("kind".into(), e.kind.name().to_string());
                }
                found.map(|e| e.value)
            }
            InputKind::Device => {
                // The first device input takes the first device named, the next the next.
                let before = spec
                    .inputs
                    .iter()
                    .take_while(|i| i.name != input.name)
                    .filter(|i| i.kind == InputKind::Device)
                    .count();
                g.of_kind(EntityKind::Device)
                    .nth(before)
                    .map(|e| e.value.clone())
            }
            InputKind::Table => g.tables.first().cloned(),
            InputKind::Severity => g.severity.clone(),
            InputKind::Integer => g.limit.map(|n| n.to_string()),
            InputKind::Status => status_in(prompt),
            InputKind::Technique => g.first(EntityKind::Technique).map(str::to_string),
            InputKind::Script => script_part(prompt),
            InputKind::Alert => ALERT_ID
                .captures(prompt)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_string()),
            InputKind::Text if input.required => Some(prompt.to_string()),
            InputKind::Text | InputKind::Path => None,
        };
        if let Some(v) = value {
            inputs.insert(input.name.clone(), v);
        }
    }
}

/// The script in "Analyze this script: …": a fenced block, else what follows the first
/// colon of a short instruction, else nothing (the prompt is then only the request).
fn script_part(prompt: &str) -> Option<String> {
    if let Some(start) = prompt.find("```") {
        let rest = &prompt[start + 3..];
        let rest = rest.split_once('\n').map_or(rest, |(lang, body)| {
            if lang.trim().chars().all(char::is_alphanumeric) {
                body
            } else {
                rest
            }
        });
        let body = rest.split("```").next().unwrap_or(rest).trim();
        return (!body.is_empty()).then(|| body.to_string());
    }
    if let Some((head, tail)) = prompt.split_once(':')
        && head.len() <= 80
        && !tail.trim().is_empty()
        && !head.contains('\\')
    {
        return Some(tail.trim().to_string());
    }
    // A command line pasted on its own.
    static COMMAND: LazyLock<Regex> = LazyLock::new(|| {
        re(
            r"(?i)\b(powershell(\.exe)?|pwsh|cmd(\.exe)?|wscript|cscript|mshta|rundll32|bash|sh)\b\s+[-/]",
        )
    });
    COMMAND
        .find(prompt)
        .map(|m| prompt[m.start()..].trim().to_string())
}

fn status_in(prompt: &str) -> Option<String> {
    static STATUS: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?i)\b(new|active|closed|open|unresolved|resolved)\b"));
    STATUS.captures(prompt).map(|c| {
        match c[1].to_ascii_lowercase().as_str() {
            "new" => "New",
            "active" => "Active",
            "closed" | "resolved" => "Closed",
            _ => "Open",
        }
        .to_string()
    })
}
