//! Vigil's copilot: an analyst's prompt is grounded (entities, names the lake knows, time
//! ranges, references to earlier turns), planned (which skills, with which inputs), run
//! over the lake, and answered with the evidence attached, in a session that remembers
//! context for follow-ups. No language model is needed: the planner and the skills are
//! deterministic, and every number and name in an answer comes from a skill's rows.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = vigil_store::Store::open("lake")?;
//! let mut copilot = vigil_copilot::Copilot::builder().open(&store).await?;
//! let (session, turn) = copilot.ask(None, "Show high severity incidents").await?;
//! println!("{}", turn.answer);
//! let (_, follow_up) = copilot.ask(Some(&session), "Summarize incident 1").await?;
//! println!("{}", follow_up.answer);
//! # Ok(()) }
//! ```

pub mod answer;
pub mod checker;
pub mod embed;
pub mod grounding;
pub mod http;
pub mod lake;
pub mod llm;
pub mod model_plan;
pub mod nl2kql;
pub mod planner;
pub mod plugins;
pub mod promptbook;
pub mod report;
pub mod session;
pub mod skill;
pub mod skills;
pub mod turn;

#[cfg(test)]
mod table_tests;

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::grounding::{Entity, Grounder, Known};
use crate::lake::Lake;
use crate::planner::Planner;
use crate::session::{SessionError, Sessions};
use crate::skill::SkillContext;
use crate::skills::Registry;
use crate::turn::{SkillCall, Turn};

pub use crate::grounding::{EntityKind, Grounding};
pub use crate::skill::{Skill, SkillOutput, SkillSpec};

/// What the copilot is doing while it answers, for those who show it as it happens.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The session the turn belongs to (a new one has just been made).
    Session(&'a str),
    /// Step `index` of the plan is about to run.
    Step {
        index: usize,
        step: &'a planner::Step,
    },
    /// Step `index` has run (its output or its error is in the call).
    Call { index: usize, call: &'a SkillCall },
}

/// Why the copilot could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum CopilotError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Skill(#[from] skill::SkillError),
    #[error(transparent)]
    Plan(#[from] planner::PlanError),
    #[error(transparent)]
    Embed(#[from] embed::EmbedError),
}

/// Options for a copilot; `open` builds it over a store.
pub struct CopilotBuilder {
    now: Option<DateTime<Utc>>,
    rules: Option<PathBuf>,
    actor: String,
    sessions: bool,
    plugins: bool,
}

impl CopilotBuilder {
    /// Loads no plugins from the data directory.
    pub fn without_plugins(mut self) -> Self {
        self.plugins = false;
        self
    }

    /// Fixes the reference time for time expressions and `ago()` (tests need this;
    /// otherwise it is the current time).
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// The Sigma rules the hunting skill uses by default.
    pub fn rules(mut self, rules: Option<PathBuf>) -> Self {
        self.rules = rules;
        self
    }

    /// Who is asking, for the audit log.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Keeps no sessions (one-off answers, benchmarks).
    pub fn without_sessions(mut self) -> Self {
        self.sessions = false;
        self
    }

    /// Opens the copilot over the lake in `store`; sessions live in its SQLite file.
    pub async fn open(self, store: &vigil_store::Store) -> Result<Copilot, CopilotError> {
        let now = self.now.unwrap_or_else(Utc::now);
        let lake = Lake::open(store, now).await?;
        let known = lake.known().await;
        let sessions = if self.sessions {
            Some(Sessions::open(&store.db_path())?)
        } else {
            None
        };
        let mut registry = Registry::builtin();
        registry.add(std::sync::Arc::new(skills::HuntSigma::new(self.rules)));
        let model = llm::ModelConfig::load(store.dir())
            .map_err(|e| skill::SkillError::Failed(e.to_string()))?
            .map(|c| std::sync::Arc::new(llm::ChatModel::new(c).with_known_names(known.names())));
        if self.plugins {
            let plugins = plugins::PluginStore::open(store.dir(), &store.db_path())
                .map_err(skill::SkillError::Failed)?;
            for p in plugins.list().map_err(skill::SkillError::Failed)? {
                if !p.enabled {
                    continue;
                }
                let settings = plugins
                    .settings(&p.name)
                    .map_err(skill::SkillError::Failed)?;
                let (report, skills) = plugins::skills_of(&p.manifest, &settings, model.clone());
                if let Some(why) = report.rejected {
                    tracing::warn!("plugin {} is not loaded: {why}", p.name);
                }
                for s in skills {
                    registry.add(s);
                }
            }
        }
        // `[embeddings]` in vigil.toml or VIGIL_EMBED_MODEL; a configured model must load.
        let embedder = match embed::configured_model(store.dir())? {
            Some(dir) => Some(std::sync::Arc::new(embed::Embedder::load(&dir)?)),
            None => None,
        };
        let mut copilot = Copilot::from_parts(lake, registry, known, sessions, self.actor);
        copilot.model = model;
        copilot.set_embedder(embedder)?;
        Ok(copilot)
    }
}

/// Grounds, plans, runs skills and answers; keeps sessions.
pub struct Copilot {
    lake: Lake,
    registry: Registry,
    planner: Planner,
    grounder: Grounder,
    sessions: Option<Sessions>,
    actor: String,
    model: Option<std::sync::Arc<llm::ChatModel>>,
}

impl Copilot {
    pub fn builder() -> CopilotBuilder {
        CopilotBuilder {
            now: None,
            rules: None,
            actor: whoami(),
            sessions: true,
            plugins: true,
        }
    }

    /// A copilot from parts already made (a lake over tables registered by hand, a
    /// registry with extra skills).
    pub fn from_parts(
        lake: Lake,
        registry: Registry,
        known: Known,
        sessions: Option<Sessions>,
        actor: String,
    ) -> Copilot {
        let planner = Planner::new(&registry);
        let grounder = Grounder::new(known, lake.now());
        Copilot {
            lake,
            registry,
            planner,
            grounder,
            sessions,
            actor,
            model: None,
        }
    }

    /// Who the audit log names for what follows (a server sets it per request).
    pub fn set_actor(&mut self, actor: impl Into<String>) {
        self.actor = actor.into();
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Lets a language model plan and phrase answers (checked against the evidence).
    pub fn set_model(&mut self, model: Option<std::sync::Arc<llm::ChatModel>>) {
        self.model = model;
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn grounder(&self) -> &Grounder {
        &self.grounder
    }

    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    pub fn sessions(&self) -> Option<&Sessions> {
        self.sessions.as_ref()
    }

    /// Lets the planner also match prompts to skills by meaning (`None`: by words only).
    pub fn set_embedder(
        &mut self,
        embedder: Option<std::sync::Arc<embed::Embedder>>,
    ) -> Result<(), CopilotError> {
        self.planner = Planner::with_embeddings(&self.registry, embedder)?;
        Ok(())
    }

    /// Runs one skill with the inputs given, outside any session (for MCP and the REST
    /// API). The input values are grounded as a prompt, so times and names in them mean
    /// what they would in a question.
    pub async fn run_skill(
        &self,
        name: &str,
        inputs: &skill::Inputs,
    ) -> Result<SkillOutput, skill::SkillError> {
        let skill = self.registry.get(name).ok_or_else(|| {
            skill::SkillError::BadInput(format!("there is no skill named {name}"))
        })?;
        let prompt = inputs.values().cloned().collect::<Vec<_>>().join(" ");
        let grounding = self.grounder.ground(&prompt, &[]);
        let ctx = SkillContext {
            lake: &self.lake,
            grounding: &grounding,
        };
        skill.run(&ctx, inputs).await
    }

    /// Adds a skill (a plugin's) and re-indexes the planner.
    pub fn add_skill(&mut self, skill: std::sync::Arc<dyn Skill>) {
        self.registry.add(skill);
        let embedder = self.planner.embedder().cloned();
        self.planner = Planner::with_embeddings(&self.registry, embedder).unwrap_or_else(|e| {
            tracing::warn!("planning by words only: {e}");
            Planner::new(&self.registry)
        });
    }

    /// Answers `prompt` in `session` (a new one when `None`), and stores the turn.
    /// Returns the session id and the turn.
    pub async fn ask(
        &mut self,
        session: Option<&str>,
        prompt: &str,
    ) -> Result<(String, Turn), CopilotError> {
        self.ask_observed(session, prompt, &mut |_| {}).await
    }

    /// [`Copilot::ask`], telling `observe` of the session and of each step as it starts
    /// and ends.
    pub async fn ask_observed(
        &mut self,
        session: Option<&str>,
        prompt: &str,
        observe: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<(String, Turn), CopilotError> {
        let now = self.lake.now();
        let (id, earlier) = match (session, &self.sessions) {
            (Some(id), Some(store)) => {
                if !store.exists(id)? {
                    return Err(SessionError::NoSession(id.to_string()).into());
                }
                (id.to_string(), store.turns(id)?)
            }
            (None, Some(store)) => {
                let title: String = prompt.chars().take(80).collect();
                (store.create(&self.actor, &title, now)?, Vec::new())
            }
            (_, None) => (String::new(), Vec::new()),
        };
        if !id.is_empty() {
            observe(Progress::Session(&id));
        }
        let turn = self.answer_observed(prompt, &earlier, now, observe).await?;
        if let Some(store) = &mut self.sessions {
            store.add_turn(&id, &turn, &self.actor)?;
        }
        Ok((id, turn))
    }

    /// Answers `prompt` after the `earlier` turns, without storing anything.
    pub async fn answer(
        &self,
        prompt: &str,
        earlier: &[Turn],
        at: DateTime<Utc>,
    ) -> Result<Turn, CopilotError> {
        self.answer_observed(prompt, earlier, at, &mut |_| {}).await
    }

    async fn answer_observed(
        &self,
        prompt: &str,
        earlier: &[Turn],
        at: DateTime<Utc>,
        observe: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<Turn, CopilotError> {
        let mut context: Vec<Entity> = Vec::new();
        for t in earlier.iter().rev() {
            for e in t.entities() {
                if !context
                    .iter()
                    .any(|c| c.kind == e.kind && c.value == e.value)
                {
                    context.push(e);
                }
            }
        }
        if let Some(model) = self.model.clone()
            && !prompt.trim_start().starts_with('/')
        {
            let grounding = self.grounder.ground(prompt, &context);
            match model_plan::run(model, &self.registry, &self.lake, prompt, &grounding).await {
                Ok(m) if !m.calls.is_empty() || !m.pending.is_empty() => {
                    for (index, call) in m.calls.iter().enumerate() {
                        observe(Progress::Call { index, call });
                    }
                    return Ok(self.model_turn(m, prompt, &grounding, earlier, at));
                }
                Ok(_) => tracing::info!("the model called no skill; answering without it"),
                Err(e) => tracing::warn!("the model failed ({e}); answering without it"),
            }
        }
        let parts = Planner::split(prompt);
        if parts.is_empty() {
            return Err(planner::PlanError::Empty.into());
        }
        let mut calls = Vec::new();
        let mut pending = Vec::new();
        for part in &parts {
            let grounding = self.grounder.ground(part, &context);
            let step = self.planner.plan_step(&self.registry, part, &grounding)?;
            // A skill that changes things outside Vigil runs only when asked for by name
            // (`/skill …`), never because a prompt's words happened to match it.
            let acts = self
                .registry
                .get(&step.skill)
                .is_some_and(|s| s.spec().side_effects);
            if acts && step.score.is_finite() {
                pending.push(step);
                continue;
            }
            let index = calls.len();
            observe(Progress::Step { index, step: &step });
            let started = Instant::now();
            let (output, error) = match self.registry.get(&step.skill) {
                Some(skill) => {
                    let ctx = SkillContext {
                        lake: &self.lake,
                        grounding: &grounding,
                    };
                    match skill.run(&ctx, &step.inputs).await {
                        Ok(o) => (Some(o), None),
                        Err(e) => (None, Some(e.to_string())),
                    }
                }
                None => (None, Some(format!("no skill named {}", step.skill))),
            };
            // Later steps of the same prompt refer to this one's results first.
            if let Some(o) = &output {
                let fresh: Vec<&Entity> =
                    grounding.all_entities().chain(o.entities.iter()).collect();
                for e in fresh.into_iter().rev() {
                    context.retain(|c| !(c.kind == e.kind && c.value == e.value));
                    let mut e = e.clone();
                    e.from = None;
                    context.insert(0, e);
                }
            }
            calls.push(SkillCall {
                step,
                grounding,
                output,
                error,
                millis: started.elapsed().as_millis() as u64,
            });
            if let Some(call) = calls.last() {
                observe(Progress::Call { index, call });
            }
        }
        let mut turn = Turn {
            seq: earlier.last().map_or(1, |t| t.seq + 1),
            at,
            prompt: prompt.to_string(),
            calls,
            answer: String::new(),
            warnings: Vec::new(),
            prose: None,
            pending,
        };
        for call in &turn.calls {
            for r in &call.grounding.references {
                if r.resolved.is_empty() {
                    turn.warnings.push(format!(
                        "\"{}\" refers to nothing earlier in this session",
                        r.text
                    ));
                }
            }
        }
        turn.answer = answer::markdown(&turn);
        Ok(turn)
    }
}

impl Copilot {
    /// A turn the model planned: its prose checked against every skill output.
    fn model_turn(
        &self,
        m: model_plan::ModelTurn,
        prompt: &str,
        g: &Grounding,
        earlier: &[Turn],
        at: DateTime<Utc>,
    ) -> Turn {
        let evidence = serde_json::json!({
            "prompt": prompt,
            "grounding": g,
            "outputs": m.calls.iter().filter_map(|c| c.output.as_ref()).collect::<Vec<_>>(),
        })
        .to_string();
        let checked = checker::check(&m.prose, &evidence);
        let mut warnings = m.warnings;
        for (kind, value) in &checked.unsupported {
            warnings.push(format!("removed a sentence from the model's answer: its {kind} {value:?} is in no skill's results"));
        }
        let mut turn = Turn {
            seq: earlier.last().map_or(1, |t| t.seq + 1),
            at,
            prompt: prompt.to_string(),
            calls: m.calls,
            answer: String::new(),
            warnings,
            prose: Some(checked.text),
            pending: m.pending,
        };
        turn.answer = answer::markdown(&turn);
        turn
    }

    /// Runs a promptbook's prompts in order in one session (a new one when `None`), so
    /// that later steps see earlier results. Returns the session and the turns.
    pub async fn run_promptbook(
        &mut self,
        book: &promptbook::Promptbook,
        values: &std::collections::BTreeMap<String, String>,
        session: Option<&str>,
    ) -> Result<(String, Vec<Turn>), CopilotError> {
        let prompts = book
            .render(values)
            .map_err(|e| skill::SkillError::BadInput(e.to_string()))?;
        let mut id = session.map(str::to_string);
        let mut turns = Vec::new();
        for p in prompts {
            let (s, turn) = self.ask(id.as_deref(), &p).await?;
            id = Some(s);
            turns.push(turn);
        }
        if let Some(store) = &self.sessions {
            let detail =
                serde_json::json!({"promptbook": book.name, "inputs": values, "session": id});
            store.audit(&self.actor, "promptbook.run", &detail, self.lake.now())?;
        }
        Ok((id.unwrap_or_default(), turns))
    }
}

/// The local user's name, for the audit log.
fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "local".into())
}
