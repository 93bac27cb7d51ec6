//! PowerShell: tokenizer, constant evaluator and the rewriting passes built on them.
//!
//! The tokenizer is written here rather than taken from the tree-sitter grammar on
//! crates.io: obfuscated code is often not valid PowerShell (cut command lines, code inside
//! another language's strings), and what the evaluator needs is tolerant tokens with
//! exact spans and hard limits on work, not a full syntax tree. It also keeps the crate
//! free of a C build.

pub mod eval;
pub mod lexer;
mod names;
pub mod objects;
pub mod ops;
pub mod rewrite;
pub mod value;
