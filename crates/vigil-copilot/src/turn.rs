//! One turn of a session: the prompt, what grounding found, the plan, each skill call
//! with its inputs and output, and the composed answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::grounding::{Entity, Grounding};
use crate::planner::Step;
use crate::skill::SkillOutput;

/// One skill call of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillCall {
    pub step: Step,
    pub grounding: Grounding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<SkillOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub millis: u64,
}

/// A prompt and everything Vigil did to answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub seq: u32,
    pub at: DateTime<Utc>,
    pub prompt: String,
    pub calls: Vec<SkillCall>,
    /// The answer as Markdown: direct answer first, then tables, evidence, follow-ups.
    pub answer: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The model's prose after checking, when a model planned the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prose: Option<String>,
    /// Calls with side effects a model asked for; they run only when the user confirms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Step>,
}

impl Turn {
    /// The entities this turn is about, for references in later turns: those the
    /// prompt named first, then those in the results.
    pub fn entities(&self) -> Vec<Entity> {
        let mut out: Vec<Entity> = Vec::new();
        let mut push = |e: &Entity| {
            if !out.iter().any(|o| o.kind == e.kind && o.value == e.value) {
                let mut e = e.clone();
                e.from = None;
                out.push(e);
            }
        };
        for call in &self.calls {
            for e in call.grounding.all_entities() {
                push(e);
            }
        }
        for call in &self.calls {
            for e in call.output.iter().flat_map(|o| o.entities.iter()) {
                push(e);
            }
        }
        out
    }

    /// The follow-ups the skills suggested.
    pub fn follow_ups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in self
            .calls
            .iter()
            .flat_map(|c| c.output.iter().flat_map(|o| o.follow_ups.iter()))
        {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
        out
    }
}
