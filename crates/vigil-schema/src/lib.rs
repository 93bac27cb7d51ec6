//! The table catalog Vigil stores and queries: the Microsoft Defender XDR advanced-hunting
//! and Microsoft Sentinel tables, with their column names, KQL types and Arrow schemas.
//!
//! The catalog is plain text (`catalog/tables.txt`) compiled into the crate, so that an
//! analyst can read it and a maintainer can extend it without touching code. Every table
//! carries both `Timestamp` and `TimeGenerated`, plus two provenance columns that Vigil
//! adds to every row: [`SOURCE_FILE_COLUMN`] and [`SOURCE_RECORD_COLUMN`].
//!
//! ```
//! use vigil_schema::Catalog;
//!
//! let catalog = Catalog::builtin();
//! let table = catalog.table("DeviceProcessEvents").unwrap();
//! assert!(table.column("ProcessCommandLine").is_some());
//! let schema = table.arrow_schema();
//! assert_eq!(schema.field(0).name(), "Timestamp");
//! ```

mod catalog;
mod types;

pub use catalog::{Catalog, CatalogError, Column, Table, TableSource};
pub use types::KqlType;

/// Column that names the file (and archive member) a row was read from.
pub const SOURCE_FILE_COLUMN: &str = "_SourceFile";
/// Column with the record number (EVTX record id, line or row number) inside that file.
pub const SOURCE_RECORD_COLUMN: &str = "_SourceRecord";
