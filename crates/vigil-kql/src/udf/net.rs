//! IP addresses and URLs.

use std::net::Ipv4Addr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::Result as DfResult;
use serde_json::{Map, Value};

use super::{Entry, longs, strings, text_at};

pub(crate) const FUNCTIONS: &[Entry] = &[
    ("kql_ipv4_is_private", || DataType::Boolean, ipv4_is_private),
    (
        "kql_ipv4_is_in_range",
        || DataType::Boolean,
        ipv4_is_in_range,
    ),
    ("kql_ipv4_compare", || DataType::Int64, ipv4_compare),
    ("kql_parse_ipv4", || DataType::Int64, parse_ipv4_fn),
    ("kql_format_ipv4", || DataType::Utf8, format_ipv4),
    ("kql_ipv4_is_match", || DataType::Boolean, ipv4_is_match),
    ("kql_has_ipv4", || DataType::Boolean, has_ipv4),
    ("kql_parse_url", || DataType::Utf8, parse_url),
    (
        "kql_ipv4_is_in_any_range",
        || DataType::Boolean,
        ipv4_is_in_any_range,
    ),
    (
        "kql_has_any_ipv4",
        || DataType::Boolean,
        has_address::<true>,
    ),
    (
        "kql_has_ipv4_prefix",
        || DataType::Boolean,
        has_address::<false>,
    ),
    ("kql_parse_ipv4_mask", || DataType::Int64, parse_ipv4_mask),
    ("kql_format_ipv4_mask", || DataType::Utf8, format_ipv4_mask),
    (
        "kql_ipv4_netmask_suffix",
        || DataType::Int64,
        ipv4_netmask_suffix,
    ),
];

/// An IPv4 address, optionally with a `/bits` prefix, as (address, prefix length).
fn parse_cidr(text: &str) -> Option<(u32, u32)> {
    let t = text.trim();
    let (addr, bits) = match t.split_once('/') {
        Some((a, b)) => (a, b.trim().parse::<u32>().ok().filter(|b| *b <= 32)?),
        None => (t, 32),
    };
    let ip: Ipv4Addr = addr.trim().parse().ok()?;
    Some((u32::from(ip), bits))
}

fn mask(bits: u32) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    }
}

fn ipv4_is_private(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let ips = strings(&args[0])?;
    let out: BooleanArray = ips
        .iter()
        .map(|t| {
            let (ip, _) = parse_cidr(t?)?;
            let in_net = |net: u32, bits: u32| ip & mask(bits) == net & mask(bits);
            Some(in_net(0x0A00_0000, 8) || in_net(0xAC10_0000, 12) || in_net(0xC0A8_0000, 16))
        })
        .collect();
    Ok(Arc::new(out))
}

fn ipv4_is_in_range(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ips = strings(&args[0])?;
    let ranges = strings(&args[1])?;
    let out: BooleanArray = (0..rows)
        .map(|i| {
            let (ip, ip_bits) = parse_cidr(text_at(&ips, i)?)?;
            let (net, bits) = parse_cidr(text_at(&ranges, i)?)?;
            let bits = bits.min(ip_bits);
            Some(ip & mask(bits) == net & mask(bits))
        })
        .collect();
    Ok(Arc::new(out))
}

/// `ipv4_compare(a, b [, bits])`: -1, 0 or 1 over the first `bits` bits.
fn ipv4_compare(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let a = strings(&args[0])?;
    let b = strings(&args[1])?;
    let bits = args.get(2).map(longs).transpose()?;
    let out: Int64Array = (0..rows)
        .map(|i| {
            let (x, xb) = parse_cidr(text_at(&a, i)?)?;
            let (y, yb) = parse_cidr(text_at(&b, i)?)?;
            let limit = bits.as_ref().map_or(32, |b| b.value(i).clamp(0, 32) as u32);
            let m = mask(xb.min(yb).min(limit));
            Some(match (x & m).cmp(&(y & m)) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            })
        })
        .collect();
    Ok(Arc::new(out))
}

fn ipv4_is_match(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let compared = ipv4_compare(args, rows)?;
    let compared = compared
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("ipv4_compare returns longs");
    let out: BooleanArray = compared.iter().map(|c| c.map(|c| c == 0)).collect();
    Ok(Arc::new(out))
}

fn parse_ipv4_fn(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let ips = strings(&args[0])?;
    let out: Int64Array = ips
        .iter()
        .map(|t| {
            let (ip, bits) = parse_cidr(t?)?;
            Some(i64::from(ip & mask(bits)))
        })
        .collect();
    Ok(Arc::new(out))
}

fn format_ipv4(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let bits = args.get(1).map(longs).transpose()?;
    let numbers = match args[0].data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = strings(&args[0])?;
            s.iter()
                .map(|t| t.and_then(parse_cidr).map(|(ip, _)| i64::from(ip)))
                .collect::<Int64Array>()
        }
        _ => longs(&args[0])?,
    };
    let out: StringArray = (0..rows)
        .map(|i| {
            if numbers.is_null(i) {
                return None;
            }
            let ip = u32::try_from(numbers.value(i)).ok()?;
            let b = bits.as_ref().map_or(32, |b| b.value(i).clamp(0, 32) as u32);
            Some(Ipv4Addr::from(ip & mask(b)).to_string())
        })
        .collect();
    Ok(Arc::new(out))
}

/// Whether the text holds an IPv4 address as a whole token (`has_ipv4(text, ip)`).
fn has_ipv4(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let ips = strings(&args[1])?;
    let out: BooleanArray = (0..rows)
        .map(|i| {
            let t = text_at(&texts, i).unwrap_or("");
            let ip = text_at(&ips, i)?;
            let found = t.match_indices(ip).any(|(at, m)| {
                let before = t[..at].chars().next_back();
                let after = t[at + m.len()..].chars().next();
                let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_digit() || c == '.'));
                edge(before) && edge(after)
            });
            Some(found)
        })
        .collect();
    Ok(Arc::new(out))
}

/// `parse_url(text)`: the parts of a URL as a bag, as KQL names them.
fn parse_url(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let out: StringArray = texts
        .iter()
        .map(|t| t.and_then(url_parts).map(|v| v.to_string()))
        .collect();
    Ok(Arc::new(out))
}

fn url_parts(text: &str) -> Option<Value> {
    let (scheme, rest) = text.split_once("://")?;
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => ("", authority),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => (h, p),
        _ => (hostport, ""),
    };
    let mut params = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(k.to_string(), Value::String(v.to_string()));
    }
    let mut bag = Map::new();
    bag.insert("Scheme".into(), scheme.into());
    bag.insert("Host".into(), host.into());
    bag.insert("Port".into(), port.into());
    bag.insert("Path".into(), path.into());
    bag.insert("Username".into(), user.into());
    bag.insert("Password".into(), password.into());
    bag.insert("Query Parameters".into(), Value::Object(params));
    bag.insert("Fragment".into(), fragment.into());
    Some(Value::Object(bag))
}

/// The addresses or ranges after the first argument: each further argument may be a
/// string or a dynamic array of them.
fn candidates(args: &[ArrayRef], row: usize) -> DfResult<Vec<String>> {
    let mut out = Vec::new();
    for a in &args[1..] {
        let texts = strings(a)?;
        let Some(t) = text_at(&texts, row) else {
            continue;
        };
        match serde_json::from_str::<Value>(t) {
            Ok(Value::Array(items)) => {
                out.extend(items.iter().filter_map(|v| v.as_str().map(str::to_string)));
            }
            _ => out.push(t.to_string()),
        }
    }
    Ok(out)
}

/// `ipv4_is_in_any_range(ip, range, …)`.
fn ipv4_is_in_any_range(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ips = strings(&args[0])?;
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let Some((ip, _)) = text_at(&ips, i).and_then(parse_cidr) else {
            out.push(None);
            continue;
        };
        let hit = candidates(args, i)?
            .iter()
            .any(|r| parse_cidr(r).is_some_and(|(net, bits)| ip & mask(bits) == net & mask(bits)));
        out.push(Some(hit));
    }
    Ok(Arc::new(BooleanArray::from(out)))
}

/// `has_any_ipv4(text, ip, …)` (`WHOLE`: any of the addresses as a whole address in the
/// text) and `has_ipv4_prefix(text, prefix, …)` (an address starting with one of them).
fn has_address<const WHOLE: bool>(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let t = text_at(&texts, i).unwrap_or("");
        let hit = candidates(args, i)?
            .iter()
            .any(|ip| whole_address_at(t, ip, WHOLE));
        out.push(Some(hit));
    }
    Ok(Arc::new(BooleanArray::from(out)))
}

/// Whether `part` occurs in `text` where an address starts (and, when `whole`, ends).
fn whole_address_at(text: &str, part: &str, whole: bool) -> bool {
    let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_digit() || c == '.'));
    !part.is_empty()
        && text.match_indices(part).any(|(at, m)| {
            let before = text[..at].chars().next_back();
            let after = text[at + m.len()..].chars().next();
            edge(before) && (!whole || edge(after))
        })
}

/// `parse_ipv4_mask(ip, prefix)`: the network address as a number.
fn parse_ipv4_mask(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ips = strings(&args[0])?;
    let bits = longs(&args[1])?;
    let out: Int64Array = (0..rows)
        .map(|i| {
            let (ip, own) = parse_cidr(text_at(&ips, i)?)?;
            let b = if bits.is_null(i) {
                own
            } else {
                u32::try_from(bits.value(i)).ok()?
            };
            (b <= 32).then(|| i64::from(ip & mask(b.min(own))))
        })
        .collect();
    Ok(Arc::new(out))
}

/// `format_ipv4_mask(ip [, prefix])`: `network/prefix`.
fn format_ipv4_mask(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ips = strings(&args[0])?;
    let bits = args.get(1).map(longs).transpose()?;
    let out: StringArray = (0..rows)
        .map(|i| {
            let (ip, own) = parse_cidr(text_at(&ips, i)?)?;
            let b = match &bits {
                Some(b) if !b.is_null(i) => u32::try_from(b.value(i)).ok()?,
                _ => own,
            };
            if b > 32 {
                return None;
            }
            let b = b.min(own);
            Some(format!("{}/{b}", Ipv4Addr::from(ip & mask(b))))
        })
        .collect();
    Ok(Arc::new(out))
}

/// `ipv4_netmask_suffix(ip)`: the prefix length, 32 without one.
fn ipv4_netmask_suffix(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ips = strings(&args[0])?;
    let out: Int64Array = (0..rows)
        .map(|i| parse_cidr(text_at(&ips, i)?).map(|(_, b)| i64::from(b)))
        .collect();
    Ok(Arc::new(out))
}
