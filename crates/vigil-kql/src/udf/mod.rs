//! KQL functions that DataFusion has no equivalent for, as scalar UDFs.
//!
//! Each function is a plain `fn` over Arrow arrays: arguments arrive as arrays of the
//! batch's length (constants are expanded), are cast to the types the function reads,
//! and one array comes back. Dynamic values travel as text: a string value as itself,
//! anything else as compact JSON (see [`dynamic`]).

pub(crate) mod dynamic;
pub(crate) mod net;
pub(crate) mod parsing;
pub(crate) mod series;
pub(crate) mod strings;
pub(crate) mod time;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The body of a KQL function: the argument arrays and the number of rows.
pub(crate) type Eval = fn(&[ArrayRef], usize) -> DfResult<ArrayRef>;

/// A KQL function implemented by Vigil.
#[derive(Debug)]
pub(crate) struct KqlFn {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    eval: Eval,
}

// Functions are told apart by name: each name has one body.
impl PartialEq for KqlFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KqlFn {}

impl std::hash::Hash for KqlFn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for KqlFn {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .into_iter()
            .map(|a| a.into_array(rows))
            .collect::<DfResult<Vec<_>>>()?;
        Ok(ColumnarValue::Array((self.eval)(&arrays, rows)?))
    }
}

/// Every Vigil function by name, built once.
fn registry() -> &'static HashMap<&'static str, Arc<ScalarUDF>> {
    static REGISTRY: OnceLock<HashMap<&'static str, Arc<ScalarUDF>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut map = HashMap::new();
        let mut add = |name: &'static str, returns: DataType, eval: Eval, volatile: bool| {
            let volatility = if volatile {
                Volatility::Volatile
            } else {
                Volatility::Immutable
            };
            let f = KqlFn {
                name,
                signature: Signature::variadic_any(volatility),
                returns,
                eval,
            };
            map.insert(name, Arc::new(ScalarUDF::new_from_impl(f)));
        };
        for (name, returns, eval) in strings::FUNCTIONS
            .iter()
            .chain(dynamic::FUNCTIONS)
            .chain(time::FUNCTIONS)
            .chain(net::FUNCTIONS)
            .chain(series::FUNCTIONS)
            .chain(parsing::FUNCTIONS)
        {
            add(name, returns(), *eval, false);
        }
        add("kql_new_guid", DataType::Utf8, strings::new_guid, true);
        map
    })
}

/// A call of the Vigil function `name` (one of the `kql_*` names in this module).
pub(crate) fn call(name: &str, args: Vec<Expr>) -> Expr {
    let udf = registry()
        .get(name)
        .unwrap_or_else(|| panic!("no Vigil function {name}: a bug in the lowering"));
    udf.call(args)
}

/// A function table entry: name, return type, body.
pub(crate) type Entry = (&'static str, fn() -> DataType, Eval);

// ----- argument helpers ---------------------------------------------------------------

/// An argument as UTF-8 strings, whatever string or other type it arrived as.
pub(crate) fn strings(array: &ArrayRef) -> DfResult<StringArray> {
    if let Some(s) = array.as_string_opt::<i32>() {
        return Ok(s.clone());
    }
    let text = match array.data_type() {
        DataType::Null => cast(array, &DataType::Utf8)?,
        DataType::Timestamp(..) => Arc::new(time::format_times(array)?),
        DataType::Duration(_) => Arc::new(time::format_durations(array)?),
        DataType::List(_) | DataType::LargeList(_) => Arc::new(dynamic::lists_to_json(array)?),
        _ => cast(array, &DataType::Utf8)?,
    };
    Ok(text.as_string::<i32>().clone())
}

/// An argument as 64-bit integers (null where it is not one).
pub(crate) fn longs(array: &ArrayRef) -> DfResult<arrow::array::Int64Array> {
    let options = arrow::compute::CastOptions {
        safe: true,
        ..Default::default()
    };
    let array = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let f = arrow::compute::cast_with_options(array, &DataType::Float64, &options)?;
            arrow::compute::cast_with_options(&f, &DataType::Int64, &options)?
        }
        _ => arrow::compute::cast_with_options(array, &DataType::Int64, &options)?,
    };
    Ok(array.as_primitive::<arrow::datatypes::Int64Type>().clone())
}

/// An argument as doubles (null where it is not a number).
pub(crate) fn reals(array: &ArrayRef) -> DfResult<arrow::array::Float64Array> {
    let options = arrow::compute::CastOptions {
        safe: true,
        ..Default::default()
    };
    let array = arrow::compute::cast_with_options(array, &DataType::Float64, &options)?;
    Ok(array
        .as_primitive::<arrow::datatypes::Float64Type>()
        .clone())
}

/// The value of a string argument at `row`, or `None` when null.
pub(crate) fn text_at(array: &StringArray, row: usize) -> Option<&str> {
    (!array.is_null(row)).then(|| array.value(row))
}
