//! Values as KQL shows them: datetimes as `2024-03-01T10:00:00Z`, timespans as
//! `1.02:03:04`, dynamic values as compact JSON, and type names (`string`, `long`, …).

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, TimeUnit};
use arrow::record_batch::RecordBatch;

use crate::udf::time::{format_duration, format_time};

/// The KQL type name of an Arrow type (`dynamic` when the column holds dynamic values).
pub fn kql_type_name(t: &DataType, dynamic: bool) -> &'static str {
    match t {
        _ if dynamic => "dynamic",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
        DataType::Int64 | DataType::UInt64 | DataType::UInt32 => "long",
        DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt16 | DataType::UInt8 => {
            "int"
        }
        DataType::Float64 | DataType::Float32 => "real",
        DataType::Decimal128(..) | DataType::Decimal256(..) => "decimal",
        DataType::Boolean => "bool",
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => "datetime",
        DataType::Duration(_) | DataType::Interval(_) => "timespan",
        DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_) | DataType::Map(..) => {
            "dynamic"
        }
        DataType::Null => "string",
        _ => "string",
    }
}

/// The .NET type Kusto reports in `getschema` for a KQL type.
pub fn dotnet_type_name(kql: &str) -> &'static str {
    match kql {
        "string" => "System.String",
        "long" => "System.Int64",
        "int" => "System.Int32",
        "real" => "System.Double",
        "decimal" => "System.Data.SqlTypes.SqlDecimal",
        "bool" => "System.Boolean",
        "datetime" => "System.DateTime",
        "timespan" => "System.TimeSpan",
        "guid" => "System.Guid",
        _ => "System.Object",
    }
}

/// One cell as text; `None` for null.
pub fn cell(array: &ArrayRef, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_string(),
        DataType::Utf8View => array.as_string_view().value(row).to_string(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Float64 => real(array.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => real(f64::from(
            array
                .as_primitive::<arrow::datatypes::Float32Type>()
                .value(row),
        )),
        DataType::Timestamp(..) => {
            let ns = arrow::compute::cast(array, &DataType::Timestamp(TimeUnit::Nanosecond, None))
                .ok()?;
            format_time(
                ns.as_primitive::<arrow::datatypes::TimestampNanosecondType>()
                    .value(row),
            )
        }
        DataType::Duration(_) => {
            let ns = arrow::compute::cast(array, &DataType::Duration(TimeUnit::Nanosecond)).ok()?;
            format_duration(
                ns.as_primitive::<arrow::datatypes::DurationNanosecondType>()
                    .value(row),
            )
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let one = array.slice(row, 1);
            crate::udf::dynamic::lists_to_json(&one)
                .ok()?
                .value(0)
                .to_string()
        }
        _ => {
            let options = arrow::util::display::FormatOptions::default();
            let formatter =
                arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &options).ok()?;
            formatter.value(row).to_string()
        }
    })
}

/// A real as the shortest text that reads back as the same number.
fn real(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 {
            "Infinity".to_string()
        } else {
            "-Infinity".to_string()
        }
    } else {
        format!("{v}")
    }
}

/// Every row of the batches as cells (null as `None`).
pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(b.columns().iter().map(|c| cell(c, r)).collect());
        }
    }
    out
}
