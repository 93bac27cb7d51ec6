//! `vigil serve`: the web app, the REST API and MCP over HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser};
use serde_json::{Value as Json, json};
use vigil_copilot::Copilot;
use vigil_copilot::promptbook::Promptbook;
use vigil_server::http::{Backend, IncidentChange, Options};
use vigil_store::Store;

use crate::copilot::{CopilotArgs, open, runtime};

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen (loopback by default; port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDRESS:PORT")]
    pub listen: SocketAddr,

    /// Listen on an address other machines can reach (the API token is then all that
    /// guards the data)
    #[arg(long)]
    pub allow_remote: bool,

    /// The largest file the web app or `POST /api/ingest` may upload, in MiB
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub max_upload_mb: usize,

    /// Requests a minute one caller (a token, a login or an address) may make; 0 for no
    /// limit
    #[arg(long, default_value_t = 1200, value_name = "N")]
    pub rate_limit: u32,

    /// Send the login cookie over plain HTTP too (behind a proxy that adds HTTPS, where
    /// browsers would otherwise drop it)
    #[arg(long)]
    pub insecure_cookies: bool,

    /// How many questions, queries and skill runs are answered at once; each holds a
    /// copilot of its own, opened when first needed (default: the number of cores)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub copilots: Option<u16>,

    #[command(flatten)]
    pub common: CopilotArgs,
}

pub fn run(data_dir: &Path, args: ServeArgs) -> Result<ExitCode> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        bail!(
            "{} is reachable from other machines: add --allow-remote to serve there",
            args.listen
        );
    }
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    if let Some((password, token)) = vigil_server::http::first_start(&store.db_path())? {
        eprintln!(
            "First start: made the account admin. Shown once, only hashes are kept:\n  \
             password: {password}\n  API token (only its hash is kept): {token}\n\
             Send the token as `Authorization: Bearer …`; `vigil users` adds accounts and tokens."
        );
    }
    let rt = runtime()?;
    rt.block_on(async {
        let copilot = open(&store, data_dir, &args.common).await?;
        let backend = Arc::new(Lake {
            dir: data_dir.to_path_buf(),
            common: args.common.clone(),
        });
        let options = Options {
            secure_cookies: !args.insecure_cookies,
            max_upload_bytes: args.max_upload_mb.saturating_mul(1 << 20),
            requests_per_minute: args.rate_limit,
            copilots: args
                .copilots
                .map_or(Options::default().copilots, usize::from),
            ..Options::default()
        };
        let app = vigil_server::http::router(copilot, &store.db_path(), backend, options)?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let at = listener.local_addr()?;
        eprintln!("Vigil is listening on http://{at} (web app at /, API at /api, MCP at /mcp)");
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .context("serving HTTP")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The server's way to the lake: the copilot, incidents, ingest and promptbooks of one
/// data directory.
struct Lake {
    dir: PathBuf,
    common: CopilotArgs,
}

impl Lake {
    fn store(&self) -> Result<Store, String> {
        Store::open(&self.dir)
            .map_err(|e| format!("opening the lake in {}: {e}", self.dir.display()))
    }
}

/// The parts of `vigil ingest`'s command line the server uses.
#[derive(Parser)]
struct IngestLine {
    #[command(flatten)]
    args: crate::cli::IngestArgs,
}

impl Backend for Lake {
    fn data_dir(&self) -> &Path {
        &self.dir
    }

    fn open_copilot(&self, rt: &tokio::runtime::Handle) -> Result<Copilot, String> {
        let store = self.store()?;
        rt.block_on(open(&store, &self.dir, &self.common))
            .map_err(|e| format!("opening the copilot: {e:#}"))
    }

    fn set_incident(
        &self,
        rt: &tokio::runtime::Handle,
        number: u64,
        change: &IncidentChange,
        actor: &str,
    ) -> Result<String, String> {
        let store = self.store()?;
        let change = crate::incidents::Change {
            status: change.status.clone(),
            classification: change.classification.clone(),
            reason: change.reason.clone(),
            comment: change.comment.clone(),
            owner: None,
        };
        let (verdict, suppressed) = rt
            .block_on(crate::incidents::apply(
                &store,
                number as i64,
                change,
                actor,
            ))
            .map_err(|e| format!("{e:#}"))?;
        let mut said = format!("Incident {number}: status {}", verdict.status);
        if !verdict.classification.is_empty() {
            said.push_str(&format!(", classification {}", verdict.classification));
        }
        if suppressed > 0 {
            said.push_str(&format!(
                "; {suppressed} rule and entity pattern(s) suppressed"
            ));
        }
        Ok(said)
    }

    fn ingest(
        &self,
        _rt: &tokio::runtime::Handle,
        file: &Path,
        table: Option<&str>,
    ) -> Result<Json, String> {
        let store = self.store()?;
        let mut line = vec!["ingest".to_string(), "--quiet".to_string()];
        if let Some(t) = table {
            line.push("--table".into());
            line.push(t.to_string());
        }
        line.push(file.display().to_string());
        let args = IngestLine::try_parse_from(&line)
            .map_err(|e| e.to_string())?
            .args;
        let done = crate::ingest::ingest(&store, &args, None).map_err(|e| format!("{e:#}"))?;
        let t = &done.totals;
        Ok(json!({
            "files": t.sources,
            "already_ingested": t.already_ingested,
            "failed_files": t.failed_files,
            "records": t.records,
            "skipped_records": t.skipped_records,
            "problems": done.problems,
            "bytes": t.bytes,
            "rows": t.rows.values().sum::<u64>(),
            "tables": t.rows,
            "seconds": done.elapsed.as_secs_f64(),
        }))
    }

    fn promptbooks(&self) -> Vec<Promptbook> {
        crate::extend::all_promptbooks(&self.dir)
            .map(|all| all.into_iter().map(|(b, _)| b).collect())
            .unwrap_or_else(|_| Promptbook::builtin())
    }
}
