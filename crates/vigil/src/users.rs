//! `vigil users`: the local accounts and API tokens of `vigil serve`.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use vigil_server::users::{Role, Users, random_hex};
use vigil_store::Store;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add an account (admin: users, plugins, settings; analyst: ask, run, hunt, change
    /// incidents; reader: read skills, tables and incidents)
    Add {
        name: String,
        #[arg(long, default_value = "analyst", value_parser = ["admin", "analyst", "reader"])]
        role: String,
        /// Read the password from standard input (default: make one and print it once)
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every account with its role and number of tokens
    List,
    /// Remove an account and its tokens
    Remove { name: String },
    /// Make a new API token for an account (printed once; only its hash is kept)
    Token { name: String },
}

pub fn run(data_dir: &Path, command: UsersCommand) -> Result<ExitCode> {
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the data directory {}", data_dir.display()))?;
    let users = Users::open(&store.db_path())?;
    match command {
        UsersCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role).context("a role is admin, analyst or reader")?;
            let (password, made) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                let line = line.trim_end_matches(['\r', '\n']).to_string();
                if line.len() < 12 {
                    bail!("a password has at least 12 characters");
                }
                (line, false)
            } else {
                (random_hex(12)?, true)
            };
            users.add(&name, role, &password)?;
            println!("Added {name} ({}).", role.name());
            if made {
                println!("Password (shown once): {password}");
            }
        }
        UsersCommand::List => {
            for (name, role, tokens) in users.list()? {
                println!("{name:<24} {:<8} {tokens} token(s)", role.name());
            }
        }
        UsersCommand::Remove { name } => {
            users.remove(&name)?;
            println!("Removed {name} and its tokens.");
        }
        UsersCommand::Token { name } => {
            let token = users.new_token(&name)?;
            println!("{token}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
