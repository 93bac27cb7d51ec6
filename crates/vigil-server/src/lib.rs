//! Vigil's servers: the Model Context Protocol server, through which an AI assistant or
//! agent uses Vigil's skills as tools and reads its tables and incidents as resources
//! (over stdio or HTTP), and `vigil serve`: the web app, the REST API and accounts.
//!
//! ```no_run
//! # async fn example(copilot: &vigil_copilot::Copilot) {
//! let mcp = vigil_server::Mcp::new(copilot);
//! let reply = mcp
//!     .handle_line(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
//!     .await;
//! println!("{}", reply.unwrap_or_default());
//! # }
//! ```

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

mod assets;
pub mod http;
pub mod mcp;
pub mod openapi;
pub mod users;

pub use mcp::Mcp;
