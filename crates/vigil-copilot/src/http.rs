//! Outbound HTTP for API plugins and language models: one blocking client with timeouts,
//! callers run it off the async threads.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

/// An HTTP request as the plugin or model client builds it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// A JSON body for methods that take one.
    pub body: Option<String>,
    pub timeout: Duration,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// A request that failed before any response (connection refused, timed out, bad URL).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {url}: {reason}")]
pub struct HttpError {
    pub method: String,
    pub url: String,
    pub reason: String,
    pub timed_out: bool,
}

/// Responses larger than this are cut: a plugin answer is data for an analyst, not a
/// download.
const MAX_BODY: u64 = 16 << 20;

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

fn failure(req: &Request, e: ureq::Error) -> HttpError {
    let timed_out = matches!(e, ureq::Error::Timeout(_));
    HttpError {
        method: req.method.clone(),
        url: redact_url(&req.url),
        reason: e.to_string(),
        timed_out,
    }
}

/// The URL without its query string, which may carry an API key.
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}

fn send(req: &Request) -> Result<ureq::http::Response<ureq::Body>, HttpError> {
    let agent = agent(req.timeout);
    let method = req.method.to_ascii_uppercase();
    macro_rules! with_headers {
        ($builder:expr) => {{
            let mut b = $builder;
            for (k, v) in &req.headers {
                b = b.header(k.as_str(), v.as_str());
            }
            b
        }};
    }
    let result = match method.as_str() {
        "GET" => with_headers!(agent.get(&req.url)).call(),
        "DELETE" => with_headers!(agent.delete(&req.url)).call(),
        "HEAD" => with_headers!(agent.head(&req.url)).call(),
        "POST" | "PUT" | "PATCH" => {
            let b = match method.as_str() {
                "POST" => agent.post(&req.url),
                "PUT" => agent.put(&req.url),
                _ => agent.patch(&req.url),
            };
            let b = with_headers!(b).header("Content-Type", "application/json");
            b.send(req.body.clone().unwrap_or_default())
        }
        other => {
            return Err(HttpError {
                method: other.into(),
                url: redact_url(&req.url),
                reason: "unsupported method".into(),
                timed_out: false,
            });
        }
    };
    result.map_err(|e| failure(req, e))
}

/// Sends a request and reads the whole response.
pub fn call(req: &Request) -> Result<Response, HttpError> {
    let mut resp = send(req)?;
    let status = resp.status().as_u16();
    let mut body = String::new();
    resp.body_mut()
        .as_reader()
        .take(MAX_BODY)
        .read_to_string(&mut body)
        .map_err(|e| HttpError {
            method: req.method.clone(),
            url: redact_url(&req.url),
            reason: format!("reading the response: {e}"),
            timed_out: e.kind() == std::io::ErrorKind::TimedOut,
        })?;
    Ok(Response { status, body })
}

/// Sends a request and hands each line of a streamed (server-sent events) response to
/// `line` as it arrives. Returns the status; a non-2xx response's body is returned as
/// the error text.
pub fn stream(req: &Request, mut line: impl FnMut(&str)) -> Result<u16, HttpError> {
    let resp = send(req)?;
    let status = resp.status().as_u16();
    let reader = BufReader::new(resp.into_body().into_reader().take(MAX_BODY));
    for l in reader.lines() {
        let l = l.map_err(|e| HttpError {
            method: req.method.clone(),
            url: redact_url(&req.url),
            reason: format!("reading the stream: {e}"),
            timed_out: e.kind() == std::io::ErrorKind::TimedOut,
        })?;
        line(&l);
    }
    Ok(status)
}
