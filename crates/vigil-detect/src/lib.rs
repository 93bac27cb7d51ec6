//! Sigma detections for Vigil.
//!
//! This crate reads Sigma rules (the whole v2 specification: detection maps and lists,
//! keywords, conditions with `1 of` / `all of` / `them`, every value modifier,
//! multi-document collections, filters and correlation rules) and says exactly why a
//! rule cannot be used. Rules are matched to Vigil's tables through a field mapping
//! (`mapping/windows.yaml`, which users can override), and a rule whose log source or
//! fields have no table is reported with the reason.
//!
//! ```
//! let text = "title: Whoami\nlogsource: {category: process_creation, product: windows}\n\
//!             detection:\n  sel: {Image|endswith: '\\whoami.exe'}\n  condition: sel\n";
//! let loaded = vigil_detect::load_text(std::path::Path::new("whoami.yml"), text);
//! assert_eq!(loaded.rules.len(), 1);
//! assert!(loaded.errors.is_empty());
//! ```

pub mod alert;
pub mod condition;
pub mod correlation;
pub mod detector;
pub mod incident;
pub mod kql;
pub mod mapping;
pub mod matcher;
pub mod modifier;
pub mod plan;
pub mod rule;
pub mod state;
pub mod value;
mod variants;

pub use alert::{Alert, Level, RuleInfo};
pub use detector::Detector;
pub use mapping::Mapping;
pub use rule::{Loaded, Rule, RuleBody, RuleError, load_path, load_text};

#[cfg(test)]
mod tests;
