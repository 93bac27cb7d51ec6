//! KQL scalar types and how Vigil stores each one in Arrow.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};

/// A KQL scalar type, as written in table schemas and `datatable` declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KqlType {
    String,
    Long,
    Int,
    Real,
    Decimal,
    Bool,
    DateTime,
    TimeSpan,
    Guid,
    /// JSON property bags and arrays. Stored as JSON text.
    Dynamic,
}

impl KqlType {
    /// Every type, in the order the KQL documentation lists them.
    pub const ALL: [KqlType; 10] = [
        KqlType::Bool,
        KqlType::DateTime,
        KqlType::Decimal,
        KqlType::Dynamic,
        KqlType::Guid,
        KqlType::Int,
        KqlType::Long,
        KqlType::Real,
        KqlType::String,
        KqlType::TimeSpan,
    ];

    /// The type's KQL name (`string`, `datetime`, …).
    pub fn name(self) -> &'static str {
        match self {
            KqlType::String => "string",
            KqlType::Long => "long",
            KqlType::Int => "int",
            KqlType::Real => "real",
            KqlType::Decimal => "decimal",
            KqlType::Bool => "bool",
            KqlType::DateTime => "datetime",
            KqlType::TimeSpan => "timespan",
            KqlType::Guid => "guid",
            KqlType::Dynamic => "dynamic",
        }
    }

    /// Parses a KQL type name, accepting the synonyms KQL itself accepts
    /// (`boolean`, `date`, `double`, `int64`, `time`, `uniqueid`).
    pub fn parse(name: &str) -> Option<KqlType> {
        let ty = match name.to_ascii_lowercase().as_str() {
            "string" => KqlType::String,
            "long" | "int64" => KqlType::Long,
            "int" | "int32" => KqlType::Int,
            "real" | "double" => KqlType::Real,
            "decimal" => KqlType::Decimal,
            "bool" | "boolean" => KqlType::Bool,
            "datetime" | "date" => KqlType::DateTime,
            "timespan" | "time" => KqlType::TimeSpan,
            "guid" | "uniqueid" => KqlType::Guid,
            "dynamic" => KqlType::Dynamic,
            _ => return None,
        };
        Some(ty)
    }

    /// The Arrow type a column of this KQL type is stored as.
    ///
    /// Times are UTC nanoseconds; KQL's own resolution is 100 ns, so nothing is lost.
    /// `guid` and `dynamic` are text: a GUID in its canonical form, a dynamic value as
    /// JSON. `decimal` is stored as a double.
    pub fn arrow_type(self) -> DataType {
        match self {
            KqlType::String | KqlType::Guid | KqlType::Dynamic => DataType::Utf8,
            KqlType::Long => DataType::Int64,
            KqlType::Int => DataType::Int32,
            KqlType::Real | KqlType::Decimal => DataType::Float64,
            KqlType::Bool => DataType::Boolean,
            KqlType::DateTime => DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC"))),
            KqlType::TimeSpan => DataType::Duration(TimeUnit::Nanosecond),
        }
    }
}

impl fmt::Display for KqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for ty in KqlType::ALL {
            assert_eq!(KqlType::parse(ty.name()), Some(ty));
        }
        assert_eq!(KqlType::parse("Boolean"), Some(KqlType::Bool));
        assert_eq!(KqlType::parse("text"), None);
    }

    #[test]
    fn times_are_utc_nanoseconds() {
        assert_eq!(
            KqlType::DateTime.arrow_type(),
            DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC")))
        );
        assert_eq!(KqlType::Dynamic.arrow_type(), DataType::Utf8);
    }
}
