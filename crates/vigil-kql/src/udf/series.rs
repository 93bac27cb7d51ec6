//! Series: the arrays `make-series` builds and the `series_*` functions over them.
//!
//! A series is a dynamic array of numbers. The analysis functions return a bag of
//! named results (`series_fit_line` gives `rsquare`, `slope`, …); the lowering splits
//! the bag into columns when the query names several outputs.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use serde_json::{Map, Value};

use super::dynamic::{as_list, json_out, list_items, parse_dyn, value_at};
use super::{Entry, longs, reals, strings, text_at};

pub(crate) const FUNCTIONS: &[Entry] = &[
    ("kql_series_fill", || DataType::Utf8, series_fill),
    ("kql_series_axis", || DataType::Utf8, series_axis),
    ("kql_series_stats", || DataType::Utf8, series_stats),
    ("kql_series_fit_line", || DataType::Utf8, series_fit_line),
    ("kql_series_decompose", || DataType::Utf8, series_decompose),
    (
        "kql_series_decompose_anomalies",
        || DataType::Utf8,
        series_decompose_anomalies,
    ),
    ("kql_series_outliers", || DataType::Utf8, series_outliers),
    (
        "kql_series_elementwise",
        || DataType::Utf8,
        series_elementwise,
    ),
    ("kql_array_sum", || DataType::Float64, array_sum),
];

/// The names of the results of the functions that return several, in Kusto's order.
pub(crate) fn outputs(function: &str) -> Option<&'static [&'static str]> {
    Some(match function {
        "series_stats" => &[
            "min", "min_idx", "max", "max_idx", "avg", "stdev", "variance",
        ],
        "series_fit_line" => &[
            "rsquare",
            "slope",
            "variance",
            "rvariance",
            "interception",
            "line_fit",
        ],
        "series_decompose" => &["baseline", "seasonal", "trend", "residual"],
        "series_decompose_anomalies" => &["ad_flag", "ad_score", "baseline"],
        _ => return None,
    })
}

/// The most elements a series may have (as in Kusto).
const MAX_BINS: i64 = 1 << 20;

/// How many bins of `step` fit from `from` (inclusive) to `to` (exclusive).
fn bin_count(from: f64, to: f64, step: f64) -> i64 {
    // NaN bounds fail these comparisons too.
    let usable = step > 0.0 && to > from;
    if !usable {
        return 0;
    }
    // Bins are whole multiples of the step; a tiny excess from rounding is not a bin.
    let n = ((to - from) / step - 1e-9).ceil();
    (n as i64).clamp(0, MAX_BINS)
}

/// Bounds and step as doubles (datetimes and timespans arrive as nanosecond longs).
fn bounds(args: &[ArrayRef], row: usize) -> DfResult<Option<(f64, f64, f64)>> {
    let [from, to, step] = [&args[0], &args[1], &args[2]].map(reals);
    let (from, to, step) = (from?, to?, step?);
    if from.is_null(row) || to.is_null(row) || step.is_null(row) {
        return Ok(None);
    }
    Ok(Some((from.value(row), to.value(row), step.value(row))))
}

/// `kql_series_fill(indexes, values, from, to, step, default)`: a series with each
/// value at its bin index and the default in every bin without one.
fn series_fill(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let idx = as_list(&args[0])?;
    let vals = as_list(&args[1])?;
    let rest: Vec<ArrayRef> = args[2..5].to_vec();
    let mut n = Vec::with_capacity(rows);
    for i in 0..rows {
        n.push(bounds(&rest, i)?.map_or(0, |(f, t, s)| bin_count(f, t, s)));
    }
    Ok(json_out(rows, |i| {
        let default = value_at(&args[5], i);
        let mut series = vec![default; usize::try_from(n[i]).unwrap_or(0)];
        let positions = list_items(&idx, i, false);
        let values = list_items(&vals, i, false);
        for (p, v) in positions.iter().zip(values) {
            if let Some(slot) = p
                .as_i64()
                .and_then(|p| usize::try_from(p).ok())
                .and_then(|p| series.get_mut(p))
                && !v.is_null()
            {
                *slot = v;
            }
        }
        Value::Array(series)
    }))
}

/// `kql_series_axis(from, to, step, kind)`: the start of every bin, as the axis type.
fn series_axis(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let kinds = strings(&args[3])?;
    let integral = args[0].data_type() == &DataType::Int64;
    let from_l = longs(&args[0])?;
    let step_l = longs(&args[2])?;
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let Some((from, to, step)) = bounds(args, i)? else {
            out.push(Value::Array(vec![]));
            continue;
        };
        let n = bin_count(from, to, step);
        let kind = text_at(&kinds, i).unwrap_or("real");
        let items = (0..n)
            .map(|k| {
                if integral && !from_l.is_null(i) && !step_l.is_null(i) {
                    let v = from_l
                        .value(i)
                        .saturating_add(k.saturating_mul(step_l.value(i)));
                    match kind {
                        "datetime" => Value::String(super::time::format_time(v)),
                        "timespan" => Value::String(super::time::format_duration(v)),
                        _ => Value::from(v),
                    }
                } else {
                    let v = from + k as f64 * step;
                    if kind == "long" && v.fract() == 0.0 {
                        Value::from(v as i64)
                    } else {
                        number(v)
                    }
                }
            })
            .collect();
        out.push(Value::Array(items));
    }
    let mut it = out.into_iter();
    Ok(json_out(rows, |_| it.next().unwrap_or(Value::Null)))
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// The numbers of a series; elements that are not numbers count as missing.
fn series_at(array: &ArrayRef, row: usize) -> Option<Vec<Option<f64>>> {
    let value = match array.as_string_opt::<i32>() {
        Some(s) => parse_dyn((!s.is_null(row)).then(|| s.value(row))?),
        None => value_at(array, row),
    };
    let Value::Array(items) = value else {
        return None;
    };
    Some(
        items
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse().ok(),
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            })
            .collect(),
    )
}

fn bag(pairs: Vec<(&str, Value)>) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(k.to_string(), v);
    }
    Value::Object(map)
}

fn array(values: &[f64]) -> Value {
    Value::Array(values.iter().map(|v| number(*v)).collect())
}

/// `series_stats_dynamic` / `series_stats`: min, max (with their first indexes), mean,
/// sample standard deviation and variance, over the elements that are numbers.
fn series_stats(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(json_out(rows, |i| {
        let Some(xs) = series_at(&args[0], i) else {
            return Value::Null;
        };
        let present: Vec<(usize, f64)> = xs
            .iter()
            .enumerate()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        if present.is_empty() {
            return bag(outputs("series_stats")
                .expect("listed")
                .iter()
                .map(|k| (*k, Value::Null))
                .collect());
        }
        let (mut min, mut max) = (present[0], present[0]);
        for &(k, v) in &present {
            if v < min.1 {
                min = (k, v);
            }
            if v > max.1 {
                max = (k, v);
            }
        }
        let values: Vec<f64> = present.iter().map(|p| p.1).collect();
        let avg = mean(&values);
        let variance = sample_variance(&values);
        bag(vec![
            ("min", number(min.1)),
            ("min_idx", Value::from(min.0)),
            ("max", number(max.1)),
            ("max_idx", Value::from(max.0)),
            ("avg", number(avg)),
            ("stdev", number(variance.sqrt())),
            ("variance", number(variance)),
        ])
    }))
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

fn sample_variance(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

/// Missing elements of a series read as 0 by the analysis functions.
fn dense(xs: &[Option<f64>]) -> Vec<f64> {
    xs.iter().map(|v| v.unwrap_or(0.0)).collect()
}

/// Least-squares line through `(index, value)`: `(slope, interception)`.
fn fit_line(ys: &[f64]) -> (f64, f64) {
    let n = ys.len() as f64;
    if ys.len() < 2 {
        return (0.0, ys.first().copied().unwrap_or(0.0));
    }
    let mx = (n - 1.0) / 2.0;
    let my = mean(ys);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (k, y) in ys.iter().enumerate() {
        let dx = k as f64 - mx;
        sxy += dx * (y - my);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

/// `series_fit_line(series)`: the linear regression of the values on their indexes.
fn series_fit_line(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(json_out(rows, |i| {
        let Some(xs) = series_at(&args[0], i) else {
            return Value::Null;
        };
        let ys = dense(&xs);
        let (slope, interception) = fit_line(&ys);
        let line: Vec<f64> = (0..ys.len())
            .map(|k| interception + slope * k as f64)
            .collect();
        let variance = sample_variance(&ys);
        let residuals: Vec<f64> = ys.iter().zip(&line).map(|(y, l)| y - l).collect();
        let rvariance = sample_variance(&residuals);
        let total: f64 = {
            let m = mean(&ys);
            ys.iter().map(|y| (y - m).powi(2)).sum()
        };
        let unexplained: f64 = residuals.iter().map(|r| r * r).sum();
        let rsquare = if total > 0.0 {
            1.0 - unexplained / total
        } else {
            1.0
        };
        bag(vec![
            ("rsquare", number(rsquare)),
            ("slope", number(slope)),
            ("variance", number(variance)),
            ("rvariance", number(rvariance)),
            ("interception", number(interception)),
            ("line_fit", array(&line)),
        ])
    }))
}

/// The seasonal period with the strongest autocorrelation, if it is strong enough.
fn detect_period(ys: &[f64], threshold: f64) -> usize {
    let n = ys.len();
    let m = mean(ys);
    let centred: Vec<f64> = ys.iter().map(|y| y - m).collect();
    let energy: f64 = centred.iter().map(|c| c * c).sum();
    if energy == 0.0 || n < 8 {
        return 0;
    }
    let mut best = (0, threshold);
    // A period needs at least two full cycles to be told from noise.
    for p in 2..=n / 2 {
        let r: f64 = (0..n - p).map(|k| centred[k] * centred[k + p]).sum::<f64>() / energy;
        if r > best.1 {
            best = (p, r);
        }
    }
    best.0
}

struct Decomposition {
    baseline: Vec<f64>,
    seasonal: Vec<f64>,
    trend: Vec<f64>,
    residual: Vec<f64>,
}

/// Splits a series into trend (`avg`: the mean, `linefit`: a regression line, `none`),
/// a seasonal part (the mean deviation at each phase of the period) and the residual.
fn decompose(ys: &[f64], seasonality: i64, trend: &str) -> Decomposition {
    let n = ys.len();
    let period = match seasonality {
        s if s < 0 => detect_period(ys, 0.6),
        s => usize::try_from(s).unwrap_or(0),
    };
    let trend_line: Vec<f64> = match trend {
        "none" => vec![0.0; n],
        "linefit" => {
            let (slope, b) = fit_line(ys);
            (0..n).map(|k| b + slope * k as f64).collect()
        }
        _ => vec![mean(ys); n],
    };
    let detrended: Vec<f64> = ys.iter().zip(&trend_line).map(|(y, t)| y - t).collect();
    let seasonal: Vec<f64> = if period >= 2 && period < n {
        let mut sums = vec![0.0; period];
        let mut counts = vec![0usize; period];
        for (k, d) in detrended.iter().enumerate() {
            sums[k % period] += d;
            counts[k % period] += 1;
        }
        (0..n)
            .map(|k| sums[k % period] / counts[k % period].max(1) as f64)
            .collect()
    } else {
        vec![0.0; n]
    };
    let baseline: Vec<f64> = trend_line
        .iter()
        .zip(&seasonal)
        .map(|(t, s)| t + s)
        .collect();
    let residual: Vec<f64> = ys.iter().zip(&baseline).map(|(y, b)| y - b).collect();
    Decomposition {
        baseline,
        seasonal,
        trend: trend_line,
        residual,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - rank.floor())
}

/// Tukey-fence scores with the 10th and 90th percentiles as the quartiles: 0 inside
/// the range, else how many ranges the value lies beyond it (negative below).
fn tukey_scores(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (q1, q3) = (percentile(&sorted, 10.0), percentile(&sorted, 90.0));
    // A flat series still has a scale, so that a single spike in it stands out.
    let range = (q3 - q1).max(1e-6 * q3.abs().max(q1.abs()).max(1.0));
    values
        .iter()
        .map(|v| {
            if *v > q3 {
                (v - q3) / range
            } else if *v < q1 {
                (v - q1) / range
            } else {
                0.0
            }
        })
        .collect()
}

fn arg_real(args: &[ArrayRef], i: usize, row: usize, default: f64) -> DfResult<f64> {
    let Some(a) = args.get(i) else {
        return Ok(default);
    };
    let r = reals(a)?;
    Ok(if r.is_null(row) {
        default
    } else {
        r.value(row)
    })
}

fn arg_text(args: &[ArrayRef], i: usize, row: usize, default: &str) -> DfResult<String> {
    let Some(a) = args.get(i) else {
        return Ok(default.to_string());
    };
    let s = strings(a)?;
    Ok(text_at(&s, row).unwrap_or(default).to_string())
}

/// `series_decompose(series, seasonality = -1, trend = 'avg')`.
fn series_decompose(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let Some(xs) = series_at(&args[0], i) else {
            out.push(Value::Null);
            continue;
        };
        let seasonality = arg_real(args, 1, i, -1.0)? as i64;
        let trend = arg_text(args, 2, i, "avg")?;
        let d = decompose(&dense(&xs), seasonality, &trend);
        out.push(bag(vec![
            ("baseline", array(&d.baseline)),
            ("seasonal", array(&d.seasonal)),
            ("trend", array(&d.trend)),
            ("residual", array(&d.residual)),
        ]));
    }
    let mut it = out.into_iter();
    Ok(json_out(rows, |_| it.next().unwrap_or(Value::Null)))
}

/// `series_decompose_anomalies(series, threshold = 1.5, seasonality = -1, trend =
/// 'avg')`: flags (+1 above, -1 below, 0) where the residual after decomposition lies
/// beyond `threshold` Tukey ranges, with the scores and the baseline.
///
/// Limitation: the decomposition is Vigil's own (mean or regression trend, phase-mean
/// seasonality, autocorrelation period detection), so scores and borderline flags can
/// differ from Kusto's; clear spikes and drops are flagged the same way.
fn series_decompose_anomalies(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let Some(xs) = series_at(&args[0], i) else {
            out.push(Value::Null);
            continue;
        };
        let threshold = arg_real(args, 1, i, 1.5)?;
        let seasonality = arg_real(args, 2, i, -1.0)? as i64;
        let trend = arg_text(args, 3, i, "avg")?;
        let d = decompose(&dense(&xs), seasonality, &trend);
        let scores = tukey_scores(&d.residual);
        let flags: Vec<Value> = scores
            .iter()
            .map(|s| {
                Value::from(if *s > threshold {
                    1
                } else if *s < -threshold {
                    -1
                } else {
                    0
                })
            })
            .collect();
        out.push(bag(vec![
            ("ad_flag", Value::Array(flags)),
            ("ad_score", array(&scores)),
            ("baseline", array(&d.baseline)),
        ]));
    }
    let mut it = out.into_iter();
    Ok(json_out(rows, |_| it.next().unwrap_or(Value::Null)))
}

/// `series_outliers(series)`: the Tukey-fence score of every element.
fn series_outliers(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(json_out(rows, |i| match series_at(&args[0], i) {
        Some(xs) => array(&tukey_scores(&dense(&xs))),
        None => Value::Null,
    }))
}

/// `kql_series_elementwise(op, a, b)`: `series_add` and friends; either side may be a
/// series or a number, and a missing element gives a missing result.
fn series_elementwise(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ops = strings(&args[0])?;
    let side = |a: &ArrayRef, row: usize| -> Option<Vec<Option<f64>>> {
        if matches!(a.data_type(), DataType::Utf8) {
            series_at(a, row)
        } else {
            let r = reals(a).ok()?;
            (!r.is_null(row)).then(|| vec![Some(r.value(row))])
        }
    };
    Ok(json_out(rows, |i| {
        let (Some(a), Some(b)) = (side(&args[1], i), side(&args[2], i)) else {
            return Value::Null;
        };
        let op = text_at(&ops, i).unwrap_or("");
        let n = if a.len() == 1 || b.len() == 1 {
            a.len().max(b.len())
        } else {
            a.len().min(b.len())
        };
        let at = |s: &[Option<f64>], k: usize| if s.len() == 1 { s[0] } else { s[k] };
        Value::Array(
            (0..n)
                .map(|k| match (at(&a, k), at(&b, k)) {
                    (Some(x), Some(y)) => match op {
                        "add" => number(x + y),
                        "subtract" => number(x - y),
                        "multiply" => number(x * y),
                        "divide" if y != 0.0 => number(x / y),
                        "greater" => Value::Bool(x > y),
                        "less" => Value::Bool(x < y),
                        "equals" => Value::Bool(x == y),
                        _ => Value::Null,
                    },
                    _ => Value::Null,
                })
                .collect(),
        )
    }))
}

/// `array_sum(array)`: the sum of the numeric elements (null when there are none).
fn array_sum(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let out: arrow::array::Float64Array = (0..rows)
        .map(|i| {
            let xs = series_at(&args[0], i)?;
            let present: Vec<f64> = xs.into_iter().flatten().collect();
            (!present.is_empty()).then(|| present.iter().sum())
        })
        .collect();
    Ok(std::sync::Arc::new(out))
}
