//! Planning with a language model: the model gets the prompt, the grounding and the
//! skills as tools (OpenAI tool calling), Vigil runs what it asks for, and its prose is
//! checked against the skills' results before anyone sees it.
//!
//! KQL the model writes is parsed and bound first; the error goes back to the model, up
//! to three repairs a turn. Skill results reach the model only as quoted data. A skill
//! with side effects is never run from the model's plan: the call is recorded for the
//! user to confirm (by running that exact `/skill` call).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value as Json, json};

use crate::grounding::Grounding;
use crate::llm::{ChatModel, Message, Tool, ToolCall, quote_data};
use crate::planner::Step;
use crate::skill::{InputKind, Inputs, SkillContext, SkillOutput, SkillSpec};
use crate::skills::Registry;
use crate::turn::SkillCall;

/// KQL repairs the model may make in one turn.
const MAX_REPAIRS: usize = 3;
/// Rounds of tool calls in one turn.
const MAX_ROUNDS: usize = 6;

/// What the model did in a turn.
pub struct ModelTurn {
    pub calls: Vec<SkillCall>,
    /// The model's prose, before checking.
    pub prose: String,
    /// Calls with side effects the model asked for, waiting for the user.
    pub pending: Vec<Step>,
    pub warnings: Vec<String>,
}

/// OpenAI function names allow letters, digits, `_` and `-`: a plugin skill's dot
/// becomes `__`.
pub fn tool_name(skill: &str) -> String {
    skill.replace('.', "__")
}

fn skill_name(tool: &str) -> String {
    tool.replace("__", ".")
}

fn tool_of(spec: &SkillSpec) -> Tool {
    Tool {
        name: tool_name(&spec.name),
        description: format!(
            "{}{}",
            spec.description,
            if spec.side_effects {
                " (changes things outside Vigil: runs only after the user confirms)"
            } else {
                ""
            }
        ),
        parameters: spec.input_schema(),
    }
}

/// A skill's output as the model sees it: the facts and the first rows, as data.
fn as_data(skill: &str, o: &SkillOutput) -> String {
    let tables: Vec<Json> = o
        .tables
        .iter()
        .map(|t| json!({"title": t.title, "columns": t.columns, "rows": t.rows.iter().take(30).collect::<Vec<_>>(), "total_rows": t.rows.len()}))
        .collect();
    let body =
        json!({"answer": o.answer, "facts": o.facts, "tables": tables, "warnings": o.warnings});
    quote_data(&format!("skill {skill}"), &body.to_string())
}

const INSTRUCTIONS: &str = "Answer the analyst's question by calling the tools, which run over the organisation's own security data. Write KQL only over the tables the tools name. When you have the results, answer in a few sentences: the direct answer first, then what supports it. Use only numbers, names, addresses and times that appear in the tool results.";

/// Runs one prompt with the model planning.
pub async fn run(
    model: Arc<ChatModel>,
    registry: &Registry,
    lake: &crate::lake::Lake,
    prompt: &str,
    grounding: &Grounding,
) -> Result<ModelTurn, crate::llm::ModelError> {
    let tools: Vec<Tool> = registry.specs().map(tool_of).collect();
    let context = json!({
        "entities": grounding.all_entities().collect::<Vec<_>>(),
        "time": grounding.time,
        "tables": grounding.tables,
    });
    let mut messages = vec![
        Message::system(&format!(
            "{}\n\n{INSTRUCTIONS}",
            crate::llm::SYSTEM_DATA_RULE
        )),
        Message::user(&format!(
            "{prompt}\n\nWhat Vigil recognised in the question: {context}"
        )),
    ];
    let mut turn = ModelTurn {
        calls: Vec::new(),
        prose: String::new(),
        pending: Vec::new(),
        warnings: Vec::new(),
    };
    let mut repairs = 0;
    for _ in 0..MAX_ROUNDS {
        let m = model.clone();
        let sent = messages.clone();
        let t = tools.clone();
        let reply = tokio::task::spawn_blocking(move || m.complete(&sent, &t, |_| {}))
            .await
            .map_err(|e| {
                crate::llm::ModelError::Malformed(format!("the model call stopped: {e}"))
            })??;
        if reply.tool_calls.is_empty() {
            turn.prose = reply.content;
            return Ok(turn);
        }
        messages.push(Message {
            role: "assistant".into(),
            content: reply.content.clone(),
            tool_calls: reply.tool_calls.clone(),
            tool_call_id: None,
        });
        for call in &reply.tool_calls {
            let result = run_call(call, registry, lake, grounding, &mut turn, &mut repairs).await;
            messages.push(Message::tool(&call.id, &result));
        }
    }
    turn.warnings.push(format!(
        "the model did not finish within {MAX_ROUNDS} rounds of tool calls"
    ));
    Ok(turn)
}

async fn run_call(
    call: &ToolCall,
    registry: &Registry,
    lake: &crate::lake::Lake,
    grounding: &Grounding,
    turn: &mut ModelTurn,
    repairs: &mut usize,
) -> String {
    let name = skill_name(&call.name);
    let Some(skill) = registry.get(&name) else {
        return format!("error: there is no tool named {}", call.name);
    };
    let spec = skill.spec().clone();
    let args: Json = serde_json::from_str(&call.arguments).unwrap_or(Json::Null);
    let inputs: Inputs = args
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    let step = Step {
        skill: spec.name.clone(),
        inputs: inputs.clone(),
        prompt: grounding.prompt.clone(),
        score: 0.0,
        reason: "chosen by the model".into(),
    };
    if spec.side_effects {
        turn.pending.push(step);
        return "not run: this tool changes things outside Vigil, so it runs only when the user confirms this exact call".into();
    }
    // Queries the model wrote must parse and bind before anything runs.
    for input in spec.inputs.iter().filter(|i| i.kind == InputKind::Kql) {
        if let Some(q) = inputs.get(&input.name)
            && let Err(e) = lake.check(q)
        {
            *repairs += 1;
            if *repairs > MAX_REPAIRS {
                turn.warnings.push(format!(
                    "the model's KQL still failed after {MAX_REPAIRS} repairs"
                ));
                return "error: too many failed queries; stop calling tools and answer with what you have".into();
            }
            return format!("error: the query does not parse or bind; fix it and call again:\n{e}");
        }
    }
    let started = Instant::now();
    let ctx = SkillContext { lake, grounding };
    let (output, error) = match skill.run(&ctx, &inputs).await {
        Ok(o) => (Some(o), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let text = match (&output, &error) {
        (Some(o), _) => as_data(&spec.name, o),
        (None, Some(e)) => format!("error: {e}"),
        (None, None) => String::new(),
    };
    turn.calls.push(SkillCall {
        step,
        grounding: grounding.clone(),
        output,
        error,
        millis: started.elapsed().as_millis() as u64,
    });
    text
}
