//! Dynamic values (KQL's JSON-like bags and arrays).
//!
//! In a plan a dynamic value is text in the form `tostring()` gives it: a string value is
//! the string itself, anything else compact JSON, and null is SQL null. That keeps the
//! common case (`tostring(parse_json(AdditionalFields).Foo) == "x"`) a plain string
//! comparison. Functions that build dynamic values from plain strings receive them
//! JSON-quoted (`kql_json_quote`), so a string `"123"` stays a string.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, ListBuilder,
    StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field};
use datafusion::common::{Result as DfResult, ScalarValue};
use serde_json::{Map, Value};

use super::{Entry, longs, reals, strings, text_at};

pub(crate) const FUNCTIONS: &[Entry] = &[
    ("kql_parse_json", || DataType::Utf8, parse_json),
    ("kql_json_quote", || DataType::Utf8, json_quote),
    ("kql_dyn_get", || DataType::Utf8, dyn_get),
    ("kql_array_length", || DataType::Int64, array_length),
    ("kql_array_items", items_type, array_items),
    ("kql_array_indexes", indexes_type, array_indexes),
    ("kql_pack", || DataType::Utf8, pack),
    ("kql_pack_array", || DataType::Utf8, pack_array),
    ("kql_bag_keys", || DataType::Utf8, bag_keys),
    ("kql_bag_merge", || DataType::Utf8, bag_merge),
    ("kql_bag_merge_list", || DataType::Utf8, bag_merge_list),
    ("kql_set_has", || DataType::Boolean, set_has),
    ("kql_array_index_of", || DataType::Int64, array_index_of),
    ("kql_array_concat", || DataType::Utf8, array_concat),
    ("kql_array_slice", || DataType::Utf8, array_slice),
    ("kql_array_sort_asc", || DataType::Utf8, array_sort::<true>),
    (
        "kql_array_sort_desc",
        || DataType::Utf8,
        array_sort::<false>,
    ),
    ("kql_array_reverse", || DataType::Utf8, array_reverse),
    ("kql_set_union", || DataType::Utf8, set_op::<0>),
    ("kql_set_intersect", || DataType::Utf8, set_op::<1>),
    ("kql_set_difference", || DataType::Utf8, set_op::<2>),
    ("kql_strcat_array", || DataType::Utf8, strcat_array),
    ("kql_list_json", || DataType::Utf8, list_json),
    ("kql_percentile_list", || DataType::Float64, percentile_list),
    ("kql_dyn_typeof", || DataType::Utf8, dyn_typeof),
    ("kql_parse_xml", || DataType::Utf8, parse_xml),
    ("kql_parse_kv", || DataType::Utf8, parse_kv),
];

fn items_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

fn indexes_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Int64, true)))
}

/// Reads dynamic text back into a value: JSON when it parses, else a string.
pub(crate) fn parse_dyn(text: &str) -> Value {
    let t = text.trim_start();
    let json_like = t.starts_with(['{', '[', '"', '-'])
        || t.starts_with(|c: char| c.is_ascii_digit())
        || matches!(t.trim_end(), "true" | "false" | "null");
    if json_like && let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    Value::String(text.to_string())
}

/// A value as dynamic text (see the module docs); null stays null.
pub(crate) fn to_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The value at `row` of an argument: dynamic text is read back, other types become the
/// JSON value they stand for.
pub(crate) fn value_at(array: &ArrayRef, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    if let Some(s) = array.as_string_opt::<i32>() {
        return parse_dyn(s.value(row));
    }
    match ScalarValue::try_from_array(array, row) {
        Ok(v) => scalar_json(&v, false),
        Err(_) => Value::Null,
    }
}

/// A scalar as a JSON value; `dynamic_text` reads strings as dynamic text.
fn scalar_json(value: &ScalarValue, dynamic_text: bool) -> Value {
    use ScalarValue as S;
    match value {
        v if v.is_null() => Value::Null,
        S::Boolean(Some(b)) => Value::Bool(*b),
        S::Int8(Some(v)) => (*v).into(),
        S::Int16(Some(v)) => (*v).into(),
        S::Int32(Some(v)) => (*v).into(),
        S::Int64(Some(v)) => (*v).into(),
        S::UInt8(Some(v)) => (*v).into(),
        S::UInt16(Some(v)) => (*v).into(),
        S::UInt32(Some(v)) => (*v).into(),
        S::UInt64(Some(v)) => (*v).into(),
        S::Float32(Some(v)) => {
            serde_json::Number::from_f64(f64::from(*v)).map_or(Value::Null, Value::Number)
        }
        S::Float64(Some(v)) => serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
        S::Utf8(Some(s)) | S::LargeUtf8(Some(s)) | S::Utf8View(Some(s)) => {
            if dynamic_text {
                parse_dyn(s)
            } else {
                Value::String(s.clone())
            }
        }
        S::TimestampNanosecond(Some(v), _) => Value::String(super::time::format_time(*v)),
        S::DurationNanosecond(Some(v)) => Value::String(super::time::format_duration(*v)),
        S::List(list) => {
            let inner = list.value(0);
            Value::Array(
                (0..inner.len())
                    .map(|i| {
                        ScalarValue::try_from_array(&inner, i)
                            .map_or(Value::Null, |v| scalar_json(&v, dynamic_text))
                    })
                    .collect(),
            )
        }
        other => Value::String(other.to_string()),
    }
}

pub(crate) fn texts_out(values: impl Iterator<Item = Option<String>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn parse_json(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    Ok(texts_out(texts.iter().map(|t| {
        let t = t?;
        match serde_json::from_str::<Value>(t) {
            Ok(v) => to_text(&v),
            Err(_) => Some(t.to_string()),
        }
    })))
}

fn json_quote(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    Ok(texts_out(texts.iter().map(|t| {
        t.map(|t| Value::String(t.to_string()).to_string())
    })))
}

/// Looks up a property (string key) or element (integer index, negative from the end).
pub(crate) fn lookup<'a>(value: &'a Value, key: &Value) -> Option<&'a Value> {
    match (value, key) {
        (Value::Object(map), Value::String(k)) => map.get(k),
        (Value::Array(items), Value::Number(n)) => {
            let i = n.as_i64()?;
            let i = if i < 0 { items.len() as i64 + i } else { i };
            items.get(usize::try_from(i).ok()?)
        }
        (Value::Array(items), Value::String(k)) => {
            let i: usize = k.parse().ok()?;
            items.get(i)
        }
        _ => None,
    }
}

fn dyn_get(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let numeric_key = args[1].data_type().is_integer();
    let int_keys = if numeric_key {
        Some(longs(&args[1])?)
    } else {
        None
    };
    let str_keys = if numeric_key {
        None
    } else {
        Some(strings(&args[1])?)
    };
    let mut last: Option<(usize, Value)> = None;
    let out = (0..rows).map(|i| {
        let t = text_at(&texts, i)?;
        let key = match (&int_keys, &str_keys) {
            (Some(k), _) => Value::from((!k.is_null(i)).then(|| k.value(i))?),
            (_, Some(k)) => Value::String(text_at(k, i)?.to_string()),
            _ => return None,
        };
        // Rows of one batch often repeat the same document; parse it once.
        let reuse = matches!(&last, Some((j, _)) if texts.value(*j) == t);
        if !reuse {
            last = Some((i, parse_dyn(t)));
        }
        let value = &last.as_ref().expect("set above").1;
        lookup(value, &key).and_then(to_text)
    });
    Ok(texts_out(out.collect::<Vec<_>>().into_iter()))
}

fn array_length(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let out: Int64Array = texts
        .iter()
        .map(|t| match parse_dyn(t?) {
            Value::Array(items) => Some(items.len() as i64),
            _ => None,
        })
        .collect();
    Ok(Arc::new(out))
}

/// The elements `mv-expand` makes rows of: an array's items, a bag's properties as
/// one-property bags (or `[key, value]` arrays with `kind=array`), a scalar as itself.
fn expansion(t: &str, pairs: bool) -> Vec<Value> {
    match parse_dyn(t) {
        Value::Array(items) => items,
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                if pairs {
                    return Value::Array(vec![Value::String(k), v]);
                }
                let mut one = Map::new();
                one.insert(k, v);
                Value::Object(one)
            })
            .collect(),
        Value::Null => Vec::new(),
        scalar => vec![scalar],
    }
}

fn array_items(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let pairs = args
        .get(1)
        .and_then(|a| {
            a.as_boolean_opt()
                .filter(|b| !b.is_empty())
                .map(|b| b.value(0))
        })
        .unwrap_or(false);
    let mut builder = ListBuilder::new(StringBuilder::new());
    for t in texts.iter() {
        // A null value keeps its row (with null); an empty array drops it.
        let Some(t) = t else {
            builder.append(false);
            continue;
        };
        for item in expansion(t, pairs) {
            builder.values().append_option(to_text(&item));
        }
        builder.append(true);
    }
    Ok(Arc::new(builder.finish()))
}

fn array_indexes(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let mut builder = ListBuilder::new(arrow::array::Int64Builder::new());
    for t in texts.iter() {
        let Some(t) = t else {
            builder.append(false);
            continue;
        };
        for i in 0..expansion(t, false).len() {
            builder.values().append_value(i as i64);
        }
        builder.append(true);
    }
    Ok(Arc::new(builder.finish()))
}

pub(crate) fn json_out(rows: usize, f: impl FnMut(usize) -> Value) -> ArrayRef {
    texts_out((0..rows).map(f).map(|v| Some(v.to_string())))
}

/// `pack(key, value, …)` / `bag_pack`.
fn pack(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let keys: Vec<StringArray> = args
        .iter()
        .step_by(2)
        .map(strings)
        .collect::<DfResult<_>>()?;
    Ok(json_out(rows, |i| {
        let mut map = Map::new();
        for (k, v) in keys.iter().zip(args.iter().skip(1).step_by(2)) {
            if let Some(k) = text_at(k, i) {
                map.insert(k.to_string(), value_at(v, i));
            }
        }
        Value::Object(map)
    }))
}

fn pack_array(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(json_out(rows, |i| {
        Value::Array(args.iter().map(|a| value_at(a, i)).collect())
    }))
}

fn dyn_values(array: &ArrayRef, rows: usize) -> Vec<Value> {
    (0..rows).map(|i| value_at(array, i)).collect()
}

fn bag_keys(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let values = dyn_values(&args[0], rows);
    Ok(texts_out(values.into_iter().map(|v| match v {
        Value::Object(map) => {
            Some(Value::Array(map.keys().map(|k| k.as_str().into()).collect()).to_string())
        }
        _ => None,
    })))
}

fn merge_into(target: &mut Map<String, Value>, value: Value) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            target.entry(k).or_insert(v);
        }
    }
}

fn bag_merge(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(json_out(rows, |i| {
        let mut out = Map::new();
        for a in args {
            merge_into(&mut out, value_at(a, i));
        }
        Value::Object(out)
    }))
}

/// The items of a list argument at `row` (a `make_list`-style aggregate's result).
pub(crate) fn list_items(list: &ListArray, row: usize, dynamic_text: bool) -> Vec<Value> {
    if list.is_null(row) {
        return Vec::new();
    }
    let inner = list.value(row);
    (0..inner.len())
        .map(|j| {
            ScalarValue::try_from_array(&inner, j)
                .map_or(Value::Null, |v| scalar_json(&v, dynamic_text))
        })
        .collect()
}

pub(crate) fn as_list(array: &ArrayRef) -> DfResult<ListArray> {
    array
        .as_list_opt::<i32>()
        .cloned()
        .ok_or_else(|| datafusion::common::DataFusionError::Internal("expected a list".into()))
}

/// `make_bag`: merges the bags of a list, first value of a key winning.
fn bag_merge_list(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let list = as_list(&args[0])?;
    Ok(json_out(rows, |i| {
        let mut out = Map::new();
        for item in list_items(&list, i, true) {
            merge_into(&mut out, item);
        }
        Value::Object(out)
    }))
}

/// A list array as dynamic arrays; the second argument says whether string elements
/// are dynamic text (else plain strings), the optional third caps the length.
fn list_json(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let list = as_list(&args[0])?;
    let dynamic = args
        .get(1)
        .and_then(|a| {
            a.as_boolean_opt()
                .filter(|b| !b.is_empty())
                .map(|b| b.value(0))
        })
        .unwrap_or(false);
    let cap = args.get(2).map(longs).transpose()?;
    Ok(texts_out((0..rows).map(|i| {
        if list.is_null(i) {
            return Some("[]".to_string());
        }
        let mut items: Vec<Value> = list_items(&list, i, dynamic)
            .into_iter()
            .filter(|v| !v.is_null())
            .collect();
        if let Some(cap) = cap.as_ref().filter(|c| !c.is_null(i)) {
            items.truncate(usize::try_from(cap.value(i)).unwrap_or(0));
        }
        Some(Value::Array(items).to_string())
    })))
}

/// Lists as dynamic text (used when a list reaches a string-reading function).
pub(crate) fn lists_to_json(array: &ArrayRef) -> DfResult<StringArray> {
    let list = match array.data_type() {
        DataType::List(_) => as_list(array)?,
        _ => {
            let cast = arrow::compute::cast(
                array,
                &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            )?;
            as_list(&cast)?
        }
    };
    Ok((0..list.len())
        .map(|i| (!list.is_null(i)).then(|| Value::Array(list_items(&list, i, false)).to_string()))
        .collect())
}

fn set_has(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let out: BooleanArray = (0..rows)
        .map(|i| match value_at(&args[0], i) {
            Value::Array(items) => Some(items.contains(&value_at(&args[1], i))),
            _ => Some(false),
        })
        .collect();
    Ok(Arc::new(out))
}

fn array_index_of(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let out: Int64Array = (0..rows)
        .map(|i| match value_at(&args[0], i) {
            Value::Array(items) => {
                let needle = value_at(&args[1], i);
                Some(
                    items
                        .iter()
                        .position(|v| *v == needle)
                        .map_or(-1, |p| p as i64),
                )
            }
            _ => None,
        })
        .collect();
    Ok(Arc::new(out))
}

fn arrays_at(args: &[ArrayRef], i: usize) -> Option<Vec<Vec<Value>>> {
    args.iter()
        .map(|a| match value_at(a, i) {
            Value::Array(items) => Some(items),
            _ => None,
        })
        .collect()
}

fn array_concat(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(texts_out((0..rows).map(|i| {
        let arrays = arrays_at(args, i)?;
        Some(Value::Array(arrays.into_iter().flatten().collect()).to_string())
    })))
}

/// `array_slice(array, start, end)`: inclusive indexes, negative from the end.
fn array_slice(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let starts = longs(&args[1])?;
    let ends = longs(&args[2])?;
    Ok(texts_out((0..rows).map(|i| {
        let Value::Array(items) = value_at(&args[0], i) else {
            return None;
        };
        let n = items.len() as i64;
        let fix = |v: i64| if v < 0 { n + v } else { v };
        let start = fix(starts.value(i)).max(0);
        let end = fix(ends.value(i)).min(n - 1);
        let slice: Vec<Value> = if start > end {
            Vec::new()
        } else {
            items[start as usize..=end as usize].to_vec()
        };
        Some(Value::Array(slice).to_string())
    })))
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn array_sort<const ASC: bool>(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(texts_out((0..rows).map(|i| {
        let Value::Array(mut items) = value_at(&args[0], i) else {
            return None;
        };
        items.sort_by(compare);
        if !ASC {
            // Nulls stay last either way.
            let nulls = items.iter().filter(|v| v.is_null()).count();
            let keep = items.len() - nulls;
            items[..keep].reverse();
        }
        Some(Value::Array(items).to_string())
    })))
}

fn array_reverse(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(texts_out((0..rows).map(|i| {
        let Value::Array(mut items) = value_at(&args[0], i) else {
            return None;
        };
        items.reverse();
        Some(Value::Array(items).to_string())
    })))
}

/// `set_union` (0), `set_intersect` (1), `set_difference` (2): distinct values, in the
/// order they first appear.
fn set_op<const OP: u8>(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(texts_out((0..rows).map(|i| {
        let arrays = arrays_at(args, i)?;
        let mut out: Vec<Value> = Vec::new();
        let mut push = |v: &Value| {
            if !out.contains(v) {
                out.push(v.clone());
            }
        };
        match OP {
            0 => arrays.iter().flatten().for_each(&mut push),
            1 => arrays[0]
                .iter()
                .filter(|v| arrays[1..].iter().all(|a| a.contains(v)))
                .for_each(&mut push),
            _ => arrays[0]
                .iter()
                .filter(|v| arrays[1..].iter().all(|a| !a.contains(v)))
                .for_each(&mut push),
        }
        Some(Value::Array(out).to_string())
    })))
}

fn strcat_array(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let delims = strings(&args[1])?;
    Ok(texts_out((0..rows).map(|i| {
        let Value::Array(items) = value_at(&args[0], i) else {
            return None;
        };
        let d = text_at(&delims, i).unwrap_or("");
        let parts: Vec<String> = items
            .iter()
            .map(|v| to_text(v).unwrap_or_default())
            .collect();
        Some(parts.join(d))
    })))
}

/// Nearest-rank percentile of a list of numbers.
fn percentile_list(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let list = as_list(&args[0])?;
    let ps = reals(&args[1])?;
    let out: Float64Array = (0..rows)
        .map(|i| {
            if list.is_null(i) {
                return None;
            }
            let inner = list.value(i);
            let values = reals(&inner).ok()?;
            let mut v: Vec<f64> = values.iter().flatten().collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(|a, b| a.total_cmp(b));
            let p = ps.value(i).clamp(0.0, 100.0);
            let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
            Some(v[rank.clamp(1, v.len()) - 1])
        })
        .collect();
    Ok(Arc::new(out))
}

fn dyn_typeof(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    Ok(texts_out(texts.iter().map(|t| {
        let name = match t.map(parse_dyn) {
            None | Some(Value::Null) => "null",
            Some(Value::Bool(_)) => "bool",
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "long",
            Some(Value::Number(_)) => "real",
            Some(Value::String(_)) => "string",
            Some(Value::Array(_)) => "array",
            Some(Value::Object(_)) => "dictionary",
        };
        Some(name.to_string())
    })))
}

/// `parse_xml(text)`: XML as a dynamic bag. An element becomes a property named after
/// it; its attributes are `@name` properties, its text is `#text` when it also has
/// attributes or child elements (else the element is just its text), and repeated
/// child elements become an array. Text that is not well-formed XML gives null.
fn parse_xml(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    Ok(texts_out((0..rows).map(|i| {
        let doc = roxmltree::Document::parse(text_at(&texts, i)?).ok()?;
        let root = doc.root_element();
        let mut bag = Map::new();
        bag.insert(root.tag_name().name().to_string(), xml_element(root));
        to_text(&Value::Object(bag))
    })))
}

fn xml_element(node: roxmltree::Node<'_, '_>) -> Value {
    let mut bag = Map::new();
    for a in node.attributes() {
        bag.insert(
            format!("@{}", a.name()),
            Value::String(a.value().to_string()),
        );
    }
    let mut text = String::new();
    for child in node.children() {
        if child.is_element() {
            let name = child.tag_name().name().to_string();
            let value = xml_element(child);
            match bag.get_mut(&name) {
                // An element's own value is never an array, so an array here is the
                // earlier repeats of this name.
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    bag.insert(name, value);
                }
            }
        } else if let Some(t) = child.text() {
            text.push_str(t);
        }
    }
    let text = text.trim();
    if bag.is_empty() {
        return if text.is_empty() {
            Value::Null
        } else {
            Value::String(text.to_string())
        };
    }
    if !text.is_empty() {
        bag.insert("#text".to_string(), Value::String(text.to_string()));
    }
    Value::Object(bag)
}

/// `kql_parse_kv(text, pair_delimiter, kv_delimiter, quotes, regex)`: the `key=value` pairs
/// of a text as a bag, keys and values trimmed, the first value of a key kept. A value
/// may be wrapped in one of the quote characters, and then holds delimiters freely. A
/// non-empty `regex` finds the pairs instead, its two groups being key and value.
fn parse_kv(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let [pairs, kvs, quotes, patterns] = [&args[1], &args[2], &args[3], &args[4]].map(strings);
    let (pairs, kvs, quotes, patterns) = (pairs?, kvs?, quotes?, patterns?);
    let mut regexes = super::strings::Regexes::default();
    Ok(texts_out((0..rows).map(|i| {
        let text = text_at(&texts, i)?;
        if let Some(pattern) = text_at(&patterns, i).filter(|p| !p.is_empty()) {
            let re = regexes.get(pattern).ok()?;
            let mut bag = Map::new();
            for c in re.captures_iter(text) {
                if let (Some(k), Some(v)) = (c.get(1), c.get(2)) {
                    bag.entry(k.as_str().to_string())
                        .or_insert_with(|| Value::String(v.as_str().to_string()));
                }
            }
            return to_text(&Value::Object(bag));
        }
        let pair = text_at(&pairs, i).filter(|p| !p.is_empty()).unwrap_or(" ");
        let kv = text_at(&kvs, i).filter(|k| !k.is_empty()).unwrap_or("=");
        let quotes: Vec<char> = text_at(&quotes, i).unwrap_or("").chars().collect();
        let mut bag = Map::new();
        let mut rest = text;
        while !rest.is_empty() {
            let Some(eq) = rest.find(kv) else { break };
            let key = rest[..eq].trim();
            let after = rest[eq + kv.len()..].trim_start();
            let (value, next) = match after.chars().next() {
                Some(q) if quotes.contains(&q) => {
                    let body = &after[q.len_utf8()..];
                    match body.find(q) {
                        Some(end) => {
                            let tail = &body[end + q.len_utf8()..];
                            let next = tail.find(pair).map_or("", |p| &tail[p + pair.len()..]);
                            (&body[..end], next)
                        }
                        None => (body, ""),
                    }
                }
                _ => match after.find(pair) {
                    Some(p) => (after[..p].trim(), &after[p + pair.len()..]),
                    None => (after.trim(), ""),
                },
            };
            if !key.is_empty() && !bag.contains_key(key) {
                bag.insert(key.to_string(), Value::String(value.to_string()));
            }
            rest = next;
        }
        to_text(&Value::Object(bag))
    })))
}
