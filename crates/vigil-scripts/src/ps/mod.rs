//! PowerShell: tokenizer, constant evaluator and the rewriting passes built on them.

pub mod eval;
pub mod lexer;
mod names;
pub mod objects;
pub mod rewrite;
pub mod value;
