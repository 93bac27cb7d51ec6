//! Sigma detections for Vigil.
//!
//! This crate reads Sigma rules (the whole v2 specification: detection maps and lists,
//! keywords, conditions with `1 of` / `all of` / `them`, every value modifier,
//! multi-document collections, filters and correlation rules) and says exactly why a
//! rule cannot be used.
//!
//! ```
//! let text = "title: Whoami\nlogsource: {category: process_creation, product: windows}\n\
//!             detection:\n  sel: {Image|endswith: '\\whoami.exe'}\n  condition: sel\n";
//! let loaded = vigil_detect::load_text(std::path::Path::new("whoami.yml"), text);
//! assert_eq!(loaded.rules.len(), 1);
//! assert!(loaded.errors.is_empty());
//! ```

pub mod condition;
pub mod modifier;
pub mod rule;
pub mod value;

pub use rule::{Loaded, Rule, RuleBody, RuleError, load_path, load_text};

#[cfg(test)]
mod tests;
