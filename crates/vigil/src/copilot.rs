//! `vigil ask`, `vigil chat`, `vigil sessions`, `vigil skills`: the copilot from the
//! command line.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::json;
use vigil_copilot::Copilot;
use vigil_copilot::session::{Rating, SessionRecord, Sessions};
use vigil_store::Store;

use crate::cli::OutputFormat;

#[derive(Args)]
pub struct AskArgs {
    /// The question or request, in plain language (or `/skill_name inputs`)
    #[arg(required = true, value_name = "PROMPT")]
    pub prompt: Vec<String>,

    /// Continue this session (follow-ups see its earlier turns)
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    /// `markdown`: the answer; `json`: answer, plan, skill calls, evidence, warnings
    #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
    pub format: String,

    #[command(flatten)]
    pub common: CopilotArgs,
}

#[derive(Args, Clone)]
pub struct CopilotArgs {
    /// The reference time for "yesterday", "last week" and ago() (RFC 3339; default now)
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,

    /// Sigma rules for the hunting skill (default: $VIGIL_RULES, else <data-dir>/rules)
    #[arg(long, value_name = "PATH")]
    pub rules: Option<PathBuf>,
}

#[derive(Args)]
pub struct ChatArgs {
    /// Continue this session
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    #[command(flatten)]
    pub common: CopilotArgs,
}

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// The sessions, most recently used first
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// A session's turns with their answers
    Show {
        id: String,
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
        format: String,
    },
    /// Write a session (turns, plans, skill calls, evidence, pins, feedback) to a file
    Export {
        id: String,
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
        format: String,
        /// Where to write (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Pin a turn to the session's pinboard
    Pin {
        id: String,
        turn: u32,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Say what you thought of an answer
    Feedback {
        id: String,
        turn: u32,
        #[arg(value_parser = ["looks-right", "needs-improvement", "inappropriate"])]
        rating: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// The audit log: who asked what, which skills ran with which inputs
    Audit {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

#[derive(Subcommand)]
pub enum SkillsCommand {
    /// Every skill with its description and inputs
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

/// Planning and optimising deep KQL expressions recurses; the runtime's threads get
/// room for that.
const STACK: usize = 256 << 20;

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK)
        .build()
        .context("starting the copilot runtime")
}

fn reference_time(text: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    text.as_ref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .with_context(|| {
                    format!("--now takes an RFC 3339 time such as 2026-03-11T15:30:00Z, not {t:?}")
                })
        })
        .transpose()
}

fn default_rules(data_dir: &Path, flag: &Option<PathBuf>) -> Option<PathBuf> {
    if let Some(r) = flag {
        return Some(r.clone());
    }
    if let Some(first) = std::env::var_os("VIGIL_RULES")
        .and_then(|v| {
            v.to_str()
                .and_then(|s| s.split(':').next().map(PathBuf::from))
        })
        .filter(|p| !p.as_os_str().is_empty())
    {
        return Some(first);
    }
    let own = data_dir.join("rules");
    own.is_dir().then_some(own)
}

pub(crate) async fn open(store: &Store, data_dir: &Path, common: &CopilotArgs) -> Result<Copilot> {
    let mut builder = Copilot::builder().rules(default_rules(data_dir, &common.rules));
    if let Some(now) = reference_time(&common.now)? {
        builder = builder.now(now);
    }
    Ok(builder.open(store).await?)
}

pub(crate) use vigil_server::http::turn_json;

pub fn ask(data_dir: &Path, args: AskArgs) -> Result<ExitCode> {
    let prompt = args.prompt.join(" ");
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    let rt = runtime()?;
    let (session, turn) = rt.block_on(async {
        let mut copilot = open(&store, data_dir, &args.common).await?;
        anyhow::Ok(copilot.ask(args.session.as_deref(), &prompt).await?)
    })?;
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&turn_json(&session, &turn))?
        )?;
    } else {
        writeln!(out, "{}", turn.answer.trim_end())?;
        writeln!(
            out,
            "\n_Session {session}, turn {}: continue with `vigil ask --session {session} \"…\"`._",
            turn.seq
        )?;
    }
    // Calls waiting for confirmation are not failures.
    let failed = !turn.calls.is_empty() && turn.calls.iter().all(|c| c.error.is_some());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn chat(data_dir: &Path, args: ChatArgs) -> Result<ExitCode> {
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    let rt = runtime()?;
    let mut copilot = rt.block_on(open(&store, data_dir, &args.common))?;
    let mut session = args.session.clone();
    let mut last_turn: Option<u32> = None;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    writeln!(
        out,
        "Vigil chat. Ask a question; `/skill …` runs a skill; :pin [note], :feedback looks-right|needs-improvement|inappropriate [comment], :export markdown|json FILE, :skills, :quit."
    )?;
    loop {
        write!(out, "> ")?;
        out.flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(command) = line.strip_prefix(':') {
            let mut words = command.splitn(2, ' ');
            let (verb, rest) = (
                words.next().unwrap_or(""),
                words.next().unwrap_or("").trim(),
            );
            let result = chat_command(&copilot, session.as_deref(), last_turn, verb, rest);
            match result {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => writeln!(out, "error: {e:#}")?,
            }
            continue;
        }
        match rt.block_on(copilot.ask(session.as_deref(), line)) {
            Ok((id, turn)) => {
                writeln!(out, "\n{}\n", turn.answer.trim_end())?;
                last_turn = Some(turn.seq);
                session = Some(id);
            }
            Err(e) => writeln!(out, "error: {e}")?,
        }
    }
    if let Some(id) = session {
        writeln!(out, "Session {id} saved.")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A `:` command in chat; true means quit.
fn chat_command(
    copilot: &Copilot,
    session: Option<&str>,
    turn: Option<u32>,
    verb: &str,
    rest: &str,
) -> Result<bool> {
    let sessions = copilot.sessions().context("sessions are not kept")?;
    let now = copilot.lake().now();
    let actor = "chat";
    match verb {
        "quit" | "q" | "exit" => Ok(true),
        "skills" => {
            for s in copilot.registry().specs() {
                println!("{:<20} {}", s.name, s.description);
            }
            Ok(false)
        }
        "pin" | "feedback" | "export" => {
            let (Some(id), Some(turn)) = (session, turn) else {
                bail!("ask something first");
            };
            match verb {
                "pin" => {
                    sessions.pin(id, turn, rest, actor, now)?;
                    println!("Pinned turn {turn}.");
                }
                "feedback" => {
                    let (rating, comment) = rest.split_once(' ').unwrap_or((rest, ""));
                    let rating = Rating::parse(rating)
                        .context("rate with looks-right, needs-improvement or inappropriate")?;
                    sessions.feedback(id, turn, rating, comment, actor, now)?;
                    println!("Thanks: feedback recorded for turn {turn}.");
                }
                _ => {
                    let (format, file) = rest.split_once(' ').unwrap_or(("markdown", rest));
                    if file.is_empty() {
                        bail!(":export markdown|json FILE");
                    }
                    let record = sessions.record(id)?;
                    std::fs::write(file, export_text(&record, format)?)?;
                    println!("Wrote {file}.");
                }
            }
            Ok(false)
        }
        other => bail!("unknown command :{other}"),
    }
}

fn export_text(record: &SessionRecord, format: &str) -> Result<String> {
    if format == "json" {
        return Ok(serde_json::to_string_pretty(record)? + "\n");
    }
    let mut out = format!(
        "# Vigil session {}: {}\n\nOwner {}, started {}, {} turns.\n\n",
        record.info.id,
        record.info.title,
        record.info.owner,
        record.info.created.to_rfc3339(),
        record.info.turns
    );
    if !record.pins.is_empty() {
        out.push_str("## Pinboard\n\n");
        for p in &record.pins {
            let prompt = record
                .turns
                .iter()
                .find(|t| t.seq == p.turn)
                .map_or("", |t| t.prompt.as_str());
            out.push_str(&format!(
                "- Turn {}: {prompt}{}\n",
                p.turn,
                if p.note.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", p.note)
                }
            ));
        }
        out.push('\n');
    }
    for t in &record.turns {
        out.push_str(&format!(
            "## Turn {}: {}\n\n_{}_\n\n{}\n\n",
            t.seq,
            t.prompt,
            t.at.to_rfc3339(),
            t.answer.trim_end()
        ));
        for f in record.feedback.iter().filter(|f| f.turn == t.seq) {
            out.push_str(&format!(
                "> Feedback: {}{}\n\n",
                f.rating.name().replace('_', " "),
                if f.comment.is_empty() {
                    String::new()
                } else {
                    format!(": {}", f.comment)
                }
            ));
        }
    }
    Ok(out)
}

fn sessions_db(data_dir: &Path) -> Result<Sessions> {
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    Ok(Sessions::open(&store.db_path())?)
}

pub fn sessions(data_dir: &Path, command: SessionsCommand) -> Result<ExitCode> {
    let db = sessions_db(data_dir)?;
    let now = Utc::now();
    let actor = std::env::var("USER").unwrap_or_else(|_| "local".into());
    match command {
        SessionsCommand::List { format } => {
            let rows: Vec<Vec<serde_json::Value>> = db
                .list()?
                .into_iter()
                .map(|s| {
                    vec![
                        json!(s.id),
                        json!(s.updated.to_rfc3339()),
                        json!(s.turns),
                        json!(s.owner),
                        json!(s.title),
                    ]
                })
                .collect();
            if rows.is_empty() && format == OutputFormat::Table {
                println!("No sessions yet: `vigil ask \"…\"` starts one.");
            } else {
                crate::output::print_rows(
                    &["Session", "Updated", "Turns", "Owner", "Title"],
                    &rows,
                    format,
                )?;
            }
        }
        SessionsCommand::Show { id, format } => {
            let record = db.record(&id)?;
            print!("{}", export_text(&record, &format)?);
        }
        SessionsCommand::Export { id, format, output } => {
            let record = db.record(&id)?;
            let text = export_text(&record, &format)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    db.audit(
                        &actor,
                        "session.export",
                        &json!({"session": id, "file": path.display().to_string()}),
                        now,
                    )?;
                    eprintln!("Wrote {}.", path.display());
                }
                None => print!("{text}"),
            }
        }
        SessionsCommand::Pin { id, turn, note } => {
            db.pin(&id, turn, &note, &actor, now)?;
            println!("Pinned turn {turn} of session {id}.");
        }
        SessionsCommand::Feedback {
            id,
            turn,
            rating,
            comment,
        } => {
            let rating = Rating::parse(&rating)
                .context("rate with looks-right, needs-improvement or inappropriate")?;
            db.feedback(&id, turn, rating, &comment, &actor, now)?;
            println!("Feedback recorded for turn {turn} of session {id}.");
        }
        SessionsCommand::Audit { format } => {
            let rows: Vec<Vec<serde_json::Value>> = db
                .audit_log()?
                .into_iter()
                .map(|a| {
                    vec![
                        json!(a.id),
                        json!(a.at.to_rfc3339()),
                        json!(a.actor),
                        json!(a.action),
                        json!(a.detail.to_string()),
                    ]
                })
                .collect();
            crate::output::print_rows(&["Id", "At", "Actor", "Action", "Detail"], &rows, format)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn skills(data_dir: &Path, command: SkillsCommand) -> Result<ExitCode> {
    let SkillsCommand::List { format } = command;
    let mut registry = vigil_copilot::skills::Registry::builtin();
    if let Ok(store) = Store::open(data_dir)
        && let Ok(plugins) = vigil_copilot::plugins::PluginStore::open(data_dir, &store.db_path())
    {
        for p in plugins
            .list()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.enabled)
        {
            let settings = plugins.settings(&p.name).unwrap_or_default();
            for s in vigil_copilot::plugins::skills_of(&p.manifest, &settings, None).1 {
                registry.add(s);
            }
        }
    }
    if format == OutputFormat::Json {
        let specs: Vec<_> = registry.specs().collect();
        println!("{}", serde_json::to_string_pretty(&specs)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<serde_json::Value>> = registry
        .specs()
        .map(|s| {
            let inputs: Vec<String> = s
                .inputs
                .iter()
                .map(|i| {
                    format!(
                        "{}{}: {}",
                        i.name,
                        if i.required { "" } else { "?" },
                        i.kind.name()
                    )
                })
                .collect();
            vec![
                json!(s.name),
                json!(inputs.join(", ")),
                json!(s.description),
                json!(s.examples.first()),
            ]
        })
        .collect();
    crate::output::print_rows(
        &["Skill", "Inputs", "Description", "Example"],
        &rows,
        format,
    )?;
    Ok(ExitCode::SUCCESS)
}
