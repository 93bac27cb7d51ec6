//! `vigil serve`: the REST API and MCP over HTTP.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
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
        let app = vigil_server::http::router(copilot, &store.db_path())?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let at = listener.local_addr()?;
        eprintln!("Vigil is listening on http://{at} (API at /api, MCP at /mcp)");
        axum::serve(listener, app).await.context("serving HTTP")
    })?;
    Ok(ExitCode::SUCCESS)
}
