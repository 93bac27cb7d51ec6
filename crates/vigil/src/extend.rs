//! `vigil plugins` and `vigil promptbook`: extending the copilot with Security Copilot
//! plugin manifests, and running named series of prompts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;
use vigil_copilot::plugins::{self, PluginStore};
use vigil_copilot::promptbook::Promptbook;
use vigil_store::Store;

use crate::cli::OutputFormat;
use crate::copilot::CopilotArgs;

#[derive(Subcommand)]
pub enum PluginsCommand {
    /// The installed plugins, whether enabled, and the names of their settings
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Check manifests (files or folders): each loads, or is rejected with the reason
    #[command(
        after_help = "Exit status 3 when any manifest is rejected.\n\nExample:\n  \
        vigil plugins validate ../shared/data/copilot/security-copilot-samples/Plugins"
    )]
    Validate {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Install a manifest (and the OpenAPI spec it names, found beside it)
    Add { manifest: PathBuf },
    /// Uninstall a plugin and forget its settings
    Remove { name: String },
    /// Turn a plugin's skills on
    Enable { name: String },
    /// Turn a plugin's skills off
    Disable { name: String },
    /// Set a plugin's settings (API keys, endpoints): NAME=VALUE; values are never shown
    Set {
        name: String,
        #[arg(required = true, value_name = "NAME=VALUE")]
        settings: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum PromptbookCommand {
    /// The built-in promptbooks and those in <data-dir>/promptbooks
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// One promptbook's inputs and prompts
    Show { name: String },
    /// Run a promptbook's prompts in one session
    #[command(
        after_help = "Example:\n  vigil promptbook run \"Incident investigation\" --input Incident=3"
    )]
    Run {
        name: String,
        /// An input value, NAME=VALUE (repeatable)
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Run in this session instead of a new one
        #[arg(long, value_name = "ID")]
        session: Option<String>,
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
        format: String,
        #[command(flatten)]
        common: CopilotArgs,
    },
    /// Import a promptbook (Vigil YAML or a Security Copilot JSON export)
    Import { file: PathBuf },
    /// Write a promptbook as Vigil YAML
    Export {
        name: String,
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

fn plugin_store(data_dir: &Path) -> Result<PluginStore> {
    let store = Store::open(data_dir).with_context(|| format!("opening {}", data_dir.display()))?;
    PluginStore::open(data_dir, &store.db_path()).map_err(anyhow::Error::msg)
}

fn manifests_in(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            manifests_in(&p, out)?;
        }
    } else if path
        .extension()
        .is_some_and(|e| matches!(e.to_str(), Some("yaml" | "yml" | "json")))
    {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Whether a YAML/JSON file in a folder walk is a plugin manifest at all (an OpenAPI
/// spec or a deployment template beside a manifest is not).
fn is_manifest_candidate(file: &Path) -> bool {
    match plugins::manifest::read_document(file) {
        Ok(doc) => doc.get("Descriptor").is_some() || doc.get("SkillGroups").is_some(),
        Err(_) => true,
    }
}

pub fn plugins(data_dir: &Path, command: PluginsCommand) -> Result<ExitCode> {
    match command {
        PluginsCommand::Validate { paths, format } => {
            let mut files = Vec::new();
            for p in &paths {
                if !p.exists() {
                    bail!("{} does not exist", p.display());
                }
                if p.is_dir() {
                    let mut found = Vec::new();
                    manifests_in(p, &mut found)?;
                    files.extend(found.into_iter().filter(|f| is_manifest_candidate(f)));
                } else {
                    files.push(p.clone());
                }
            }
            let reports: Vec<plugins::Report> =
                files.iter().map(|f| plugins::validate(f)).collect();
            let rejected = reports.iter().filter(|r| r.rejected.is_some()).count();
            if format == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                let rows: Vec<Vec<serde_json::Value>> = reports
                    .iter()
                    .map(|r| {
                        let problems: Vec<String> = r
                            .skills
                            .iter()
                            .filter_map(|s| s.problem.as_ref().map(|p| format!("{}: {p}", s.name)))
                            .collect();
                        vec![
                            json!(r.file),
                            json!(r.plugin.clone().unwrap_or_default()),
                            json!(if r.rejected.is_some() {
                                "rejected"
                            } else {
                                "loads"
                            }),
                            json!(format!("{}/{}", r.usable(), r.skills.len())),
                            json!(r.rejected.clone().unwrap_or_else(|| problems.join("; "))),
                        ]
                    })
                    .collect();
                crate::output::print_rows(
                    &["File", "Plugin", "Result", "Skills", "Reason"],
                    &rows,
                    format,
                )?;
                if format == OutputFormat::Table {
                    println!(
                        "\n{} manifests: {} load, {rejected} rejected.",
                        reports.len(),
                        reports.len() - rejected
                    );
                }
            }
            Ok(if rejected > 0 {
                ExitCode::from(crate::EXIT_SKIPPED)
            } else {
                ExitCode::SUCCESS
            })
        }
        PluginsCommand::List { format } => {
            let store = plugin_store(data_dir)?;
            let rows: Vec<Vec<serde_json::Value>> = store
                .list()
                .map_err(anyhow::Error::msg)?
                .into_iter()
                .map(|p| {
                    let report = plugins::validate(&p.manifest);
                    vec![
                        json!(p.name),
                        json!(if p.enabled { "enabled" } else { "disabled" }),
                        json!(report.usable()),
                        json!(p.setting_names.join(", ")),
                        json!(p.manifest.display().to_string()),
                    ]
                })
                .collect();
            if rows.is_empty() && format == OutputFormat::Table {
                println!("No plugins: `vigil plugins add MANIFEST` installs one.");
            } else {
                crate::output::print_rows(
                    &["Plugin", "State", "Skills", "Settings", "Manifest"],
                    &rows,
                    format,
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginsCommand::Add { manifest } => {
            let store = plugin_store(data_dir)?;
            let report = store.add(&manifest).map_err(anyhow::Error::msg)?;
            println!(
                "Installed plugin {} with {} usable skills.",
                report.plugin.clone().unwrap_or_default(),
                report.usable()
            );
            for s in report.skills.iter().filter(|s| s.problem.is_some()) {
                println!(
                    "  not usable: {}: {}",
                    s.name,
                    s.problem.clone().unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginsCommand::Remove { name } => {
            plugin_store(data_dir)?
                .remove(&name)
                .map_err(anyhow::Error::msg)?;
            println!("Removed plugin {name}.");
            Ok(ExitCode::SUCCESS)
        }
        PluginsCommand::Enable { name } => {
            plugin_store(data_dir)?
                .set_enabled(&name, true)
                .map_err(anyhow::Error::msg)?;
            println!("Enabled plugin {name}.");
            Ok(ExitCode::SUCCESS)
        }
        PluginsCommand::Disable { name } => {
            plugin_store(data_dir)?
                .set_enabled(&name, false)
                .map_err(anyhow::Error::msg)?;
            println!("Disabled plugin {name}.");
            Ok(ExitCode::SUCCESS)
        }
        PluginsCommand::Set { name, settings } => {
            let store = plugin_store(data_dir)?;
            for s in &settings {
                let Some((k, v)) = s.split_once('=') else {
                    bail!("settings are NAME=VALUE, not {s:?}");
                };
                store
                    .set_setting(&name, k.trim(), v)
                    .map_err(anyhow::Error::msg)?;
                // Never echo the value: it is usually a secret.
                println!("Set {} of plugin {name}.", k.trim());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn promptbooks_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("promptbooks")
}

pub(crate) fn all_promptbooks(data_dir: &Path) -> Result<Vec<(Promptbook, String)>> {
    let mut out: Vec<(Promptbook, String)> = Promptbook::builtin()
        .into_iter()
        .map(|b| (b, "built in".to_string()))
        .collect();
    let dir = promptbooks_dir(data_dir);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        {
            match Promptbook::load(&f) {
                Ok(b) => {
                    out.retain(|(o, _)| !o.name.eq_ignore_ascii_case(&b.name));
                    out.push((b, f.display().to_string()));
                }
                Err(e) => eprintln!("warning: {e}"),
            }
        }
    }
    Ok(out)
}

fn find(data_dir: &Path, name: &str) -> Result<Promptbook> {
    all_promptbooks(data_dir)?
        .into_iter()
        .map(|(b, _)| b)
        .find(|b| b.name.eq_ignore_ascii_case(name))
        .with_context(|| {
            format!("no promptbook named {name:?} (`vigil promptbook list` shows them)")
        })
}

pub fn promptbook(data_dir: &Path, command: PromptbookCommand) -> Result<ExitCode> {
    match command {
        PromptbookCommand::List { format } => {
            let rows: Vec<Vec<serde_json::Value>> = all_promptbooks(data_dir)?
                .into_iter()
                .map(|(b, from)| {
                    let inputs: Vec<&str> = b.inputs.iter().map(|i| i.name.as_str()).collect();
                    vec![
                        json!(b.name),
                        json!(inputs.join(", ")),
                        json!(b.prompts.len()),
                        json!(b.description),
                        json!(from),
                    ]
                })
                .collect();
            crate::output::print_rows(
                &["Promptbook", "Inputs", "Prompts", "Description", "From"],
                &rows,
                format,
            )?;
        }
        PromptbookCommand::Show { name } => print!("{}", find(data_dir, &name)?.to_yaml()),
        PromptbookCommand::Import { file } => {
            let book = Promptbook::load(&file)?;
            let dir = promptbooks_dir(data_dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let safe: String = book
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let target = dir.join(format!("{safe}.yaml"));
            std::fs::write(&target, book.to_yaml())
                .with_context(|| format!("writing {}", target.display()))?;
            println!(
                "Imported promptbook {:?} ({} prompts, inputs: {}) to {}.",
                book.name,
                book.prompts.len(),
                book.inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                target.display()
            );
        }
        PromptbookCommand::Export { name, output } => {
            let yaml = find(data_dir, &name)?.to_yaml();
            match output {
                Some(p) => {
                    std::fs::write(&p, yaml).with_context(|| format!("writing {}", p.display()))?
                }
                None => print!("{yaml}"),
            }
        }
        PromptbookCommand::Run {
            name,
            inputs,
            session,
            format,
            common,
        } => {
            let book = find(data_dir, &name)?;
            let mut values = BTreeMap::new();
            for i in &inputs {
                let Some((k, v)) = i.split_once('=') else {
                    bail!("--input takes NAME=VALUE, not {i:?}");
                };
                values.insert(k.trim().to_string(), v.to_string());
            }
            let store =
                Store::open(data_dir).with_context(|| format!("opening {}", data_dir.display()))?;
            let rt = crate::copilot::runtime()?;
            let (id, turns) = rt.block_on(async {
                let mut copilot = crate::copilot::open(&store, data_dir, &common).await?;
                anyhow::Ok(
                    copilot
                        .run_promptbook(&book, &values, session.as_deref())
                        .await?,
                )
            })?;
            let mut out = std::io::stdout().lock();
            if format == "json" {
                let turns: Vec<_> = turns
                    .iter()
                    .map(|t| crate::copilot::turn_json(&id, t))
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"session": id, "promptbook": book.name, "turns": turns})
                    )?
                )?;
            } else {
                writeln!(out, "# {}\n", book.name)?;
                for t in &turns {
                    writeln!(
                        out,
                        "## {}. {}\n\n{}\n",
                        t.seq,
                        t.prompt,
                        t.answer.trim_end()
                    )?;
                }
                writeln!(
                    out,
                    "_Session {id}: `vigil sessions export {id}` writes it out._"
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
