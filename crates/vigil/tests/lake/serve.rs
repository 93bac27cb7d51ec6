//! `vigil serve` on a copy of the demo lake: every operation of the OpenAPI document,
//! answers streamed as server-sent events, logins with CSRF, who may see and change what,
//! limits, and the web app in headless Chromium.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::common::vigil;
use super::demo::{demo_lake, incidents, serve as start_server, users};

/// A copy of the demo lake this test may change.
fn lake_copy() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("a folder");
        for entry in std::fs::read_dir(from).expect("reads the lake") {
            let entry = entry.expect("an entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("a type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).expect("copies a file");
            }
        }
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    copy(&demo_lake(), dir.path());
    dir
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(lake: &Path, extra: &[&str]) -> Server {
    let (child, addr, _) = start_server(lake, extra);
    Server { child, addr }
}

/// An account made for a test, with its password and a token.
fn account(lake: &Path, name: &str, role: &str) -> (String, String) {
    let password = format!("{name}-passphrase-long");
    let mut child = vigil(lake)
        .args(["users", "add", name, "--role", role, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("vigil users add runs");
    writeln!(child.stdin.take().expect("a stdin"), "{password}").expect("writes");
    assert!(child.wait().expect("ends").success(), "adding {name}");
    let token = users(lake, &["token", name]);
    (password, token)
}

struct Reply {
    status: u16,
    headers: BTreeMap<String, Vec<String>>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// One HTTP/1.1 request; the response is read to its end (the server closes).
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = std::net::TcpStream::connect(addr).expect("the server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("a timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("sends");
    // A server may answer before taking a body it refuses.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            map.entry(k.trim().to_ascii_lowercase())
                .or_default()
                .push(v.trim().to_string());
        }
    }
    let chunked = map
        .get("transfer-encoding")
        .is_some_and(|v| v.iter().any(|e| e.contains("chunked")));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Reply {
        status,
        headers: map,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn call(addr: &str, method: &str, path: &str, token: &str, body: Option<&Value>) -> Reply {
    let auth = bearer(token);
    let mut headers = vec![("Authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    request(addr, method, path, &headers, payload.as_bytes())
}

/// Whether `value` has the shape `schema` documents: types, required properties, items.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let mut target = doc;
        for part in r.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        return conforms(doc, target, value, at);
    }
    let ok = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !ok {
        return Err(format!("{at}: expected {} in {value}", schema["type"]));
    }
    for name in schema["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        if value.get(name).is_none() {
            return Err(format!("{at}: no {name:?} in {value}"));
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, s) in props {
            if let Some(v) = value.get(name).filter(|v| !v.is_null()) {
                conforms(doc, s, v, &format!("{at}.{name}"))?;
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            conforms(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn fill_json(v: &Value, values: &[(&str, &str)]) -> Value {
    match v {
        Value::String(s) => Value::String(fill(s, values)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_json(x, values)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill_json(x, values)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn first_high_incident(lake: &Path) -> String {
    incidents(lake)
        .iter()
        .find(|i| i["Severity"] == "High")
        .and_then(|i| i["Number"].as_u64())
        .expect("the demo has a high severity incident")
        .to_string()
}

#[test]
fn every_openapi_operation_is_served_and_answers_in_its_documented_shape() {
    let lake = lake_copy();
    let (password, token) = account(lake.path(), "walker", "admin");
    let server = serve(lake.path(), &["--rate-limit", "0"]);
    let addr = server.addr.as_str();
    let doc = request(addr, "GET", "/api/openapi.json", &[], b"").json();
    assert_eq!(doc["openapi"], "3.1.0");
    let first = call(
        addr,
        "POST",
        "/api/ask",
        &token,
        Some(&json!({"prompt": "Show high severity incidents"})),
    );
    assert_eq!(first.status, 200, "{}", first.body);
    let session = first.json()["session"]
        .as_str()
        .expect("a session")
        .to_string();
    let incident = first_high_incident(lake.path());
    let values = [
        ("user", "walker"),
        ("password", password.as_str()),
        ("session", session.as_str()),
        ("incident", incident.as_str()),
    ];
    // Changes that take things away run last, so the rest find what they need.
    let mut operations: Vec<(String, String, Value)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            operations.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    operations.sort_by_key(|(m, _, _)| m == "DELETE");
    assert!(operations.len() >= 30, "{} operations", operations.len());
    for (method, path, op) in &operations {
        let mut url = path.clone();
        let mut query = Vec::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().expect("a name");
            let example = p["example"]
                .as_str()
                .map(|e| fill(e, &values))
                .unwrap_or_default();
            match p["in"].as_str() {
                Some("path") => {
                    assert!(
                        !example.is_empty(),
                        "{method} {path}: {name} has no example"
                    );
                    url = url.replace(&format!("{{{name}}}"), &encode(&example));
                }
                Some("query") if !example.is_empty() => {
                    query.push(format!("{name}={}", encode(&example)))
                }
                _ => {}
            }
        }
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let content = &op["requestBody"]["content"];
        let (kind, body) = if let Some(j) = content.get("application/json") {
            let example = fill_json(&j["example"], &values);
            ("application/json", example.to_string().into_bytes())
        } else if let Some(raw) = content.get("application/octet-stream") {
            let text = raw["example"].as_str().expect("an upload example");
            ("application/octet-stream", text.as_bytes().to_vec())
        } else {
            ("application/json", Vec::new())
        };
        let auth = bearer(&token);
        let mut headers = vec![("Authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("Content-Type", kind));
        }
        let reply = request(addr, method, &url, &headers, &body);
        assert_eq!(
            reply.status, 200,
            "{method} {url} answered {}: {}",
            reply.status, reply.body
        );
        let documented = &op["responses"]["200"]["content"];
        if let Some(schema) = documented.get("application/json").map(|c| &c["schema"]) {
            conforms(&doc, schema, &reply.json(), &format!("{method} {path}"))
                .unwrap_or_else(|e| panic!("{e}"));
        } else {
            assert!(
                reply
                    .header("content-type")
                    .is_some_and(|t| t.starts_with("text/html")),
                "{method} {url}: {:?}",
                reply.headers
            );
            assert!(reply.body.contains("<svg") || reply.body.contains("<html"));
        }
    }
    // What the walk did is in the audit log, with who did it.
    let audit = call(addr, "GET", "/api/audit?limit=500", &token, None).json();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["actor"] == "walker")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "prompt",
        "incident.set",
        "ingest",
        "plugin.add",
        "plugin.remove",
        "user.add",
        "user.remove",
        "query",
        "session.share",
        "login",
    ] {
        assert!(actions.contains(&expected), "no {expected} in {actions:?}");
    }
    // The uploaded row is in the lake.
    let found = call(
        addr,
        "POST",
        "/api/query",
        &token,
        Some(
            &json!({"query": "DeviceInfo | where DeviceName == 'upload-test.corp.example' | count"}),
        ),
    );
    assert_eq!(found.json()["rows"][0][0], 1, "{}", found.body);
}

/// The events of a server-sent event stream, in order.
fn events(body: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let mut name = String::from("message");
        let mut data = String::new();
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event:") {
                name = n.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
            }
        }
        if !data.is_empty() {
            out.push((name, serde_json::from_str(&data).expect("JSON data")));
        }
    }
    out
}

#[test]
fn answers_stream_as_server_sent_events_and_follow_ups_stay_in_the_session() {
    let lake = lake_copy();
    let (_, token) = account(lake.path(), "streamer", "analyst");
    let server = serve(lake.path(), &["--copilots", "2"]);
    let auth = bearer(&token);
    let ask = |body: &Value| {
        request(
            &server.addr,
            "POST",
            "/api/ask",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
                ("Accept", "text/event-stream"),
            ],
            body.to_string().as_bytes(),
        )
    };
    let reply = ask(&json!({"prompt": "Show high severity incidents"}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
    );
    let got = events(&reply.body);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"session"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    let step = names
        .iter()
        .position(|n| *n == "step")
        .expect("a step event");
    let called = names
        .iter()
        .position(|n| *n == "call")
        .expect("a call event");
    let first_piece = names
        .iter()
        .position(|n| *n == "answer")
        .expect("answer pieces");
    assert!(step < called && called < first_piece, "{names:?}");
    let done = &got.last().expect("done").1;
    let streamed: String = got
        .iter()
        .filter(|(n, _)| n == "answer")
        .map(|(_, d)| d["text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(streamed, done["answer"].as_str().unwrap_or_default());
    let high = incidents(lake.path())
        .iter()
        .filter(|i| i["Severity"] == "High")
        .count();
    assert!(
        streamed.contains(&format!("{high} high severity incidents")),
        "{streamed}"
    );
    let call_event = &got[called].1["call"];
    assert_eq!(call_event["step"]["skill"], "list_incidents");
    assert!(call_event["output"]["evidence"][0]["query"].is_string());

    let session = done["session"].as_str().expect("a session");
    let incident = first_high_incident(lake.path());
    let follow =
        ask(&json!({"prompt": format!("Summarize incident {incident}"), "session": session}));
    let got = events(&follow.body);
    let done = &got.last().expect("done").1;
    assert_eq!(got.last().map(|(n, _)| n.as_str()), Some("done"));
    assert_eq!(done["session"], session);
    assert_eq!(done["turn"], 2);
    assert!(
        done["answer"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("ncident {incident}")),
        "{done}"
    );
    // A failure streams as an error event with its code.
    let bad = ask(&json!({"prompt": "Show high severity incidents", "session": "s-none"}));
    let got = events(&bad.body);
    assert_eq!(
        got.last().map(|(n, _)| n.as_str()),
        Some("error"),
        "{}",
        bad.body
    );
    assert_eq!(got.last().expect("an event").1["code"], "not_found");

    // Analysts asking at once are answered side by side, each in a session of their own,
    // while an incident changes under them.
    let asking: Vec<_> = (0..4)
        .map(|i| {
            let (addr, token) = (server.addr.clone(), token.clone());
            std::thread::spawn(move || {
                let prompt = [
                    "Show high severity incidents",
                    "Which devices copied data to a USB drive in the last week?",
                ][i % 2];
                call(
                    &addr,
                    "POST",
                    "/api/ask",
                    &token,
                    Some(&json!({"prompt": prompt})),
                )
            })
        })
        .collect();
    let changed = call(
        &server.addr,
        "PATCH",
        &format!("/api/incidents/{incident}"),
        &token,
        Some(&json!({"status": "Active"})),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    let mut sessions = std::collections::BTreeSet::new();
    for t in asking {
        let reply = t.join().expect("an answer");
        assert_eq!(reply.status, 200, "{}", reply.body);
        sessions.insert(
            reply.json()["session"]
                .as_str()
                .expect("a session")
                .to_string(),
        );
    }
    assert_eq!(sessions.len(), 4);
    // Every copilot answers from the lake as changed.
    for _ in 0..3 {
        let shown = call(
            &server.addr,
            "GET",
            &format!("/api/incidents/{incident}"),
            &token,
            None,
        );
        assert_eq!(shown.json()["status"], "Active", "{}", shown.body);
    }
}

#[test]
fn who_may_see_and_change_what_and_the_limits_that_guard_the_server() {
    let lake = lake_copy();
    let (password, analyst) = account(lake.path(), "ana", "analyst");
    let (_, other) = account(lake.path(), "olaf", "analyst");
    let (_, reader) = account(lake.path(), "rita", "reader");
    let server = serve(lake.path(), &["--max-upload-mb", "1"]);
    let addr = server.addr.as_str();
    let incident = first_high_incident(lake.path());

    // Every answer carries the security headers; the web app is served without a login.
    let page = request(addr, "GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    let csp = page
        .header("content-security-policy")
        .expect("a CSP")
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(
        page.body.contains("<script type=\"module\""),
        "{}",
        page.body
    );

    // A reader reads incidents but does not change them.
    let path = format!("/api/incidents/{incident}");
    assert_eq!(call(addr, "GET", &path, &reader, None).status, 200);
    let refused = call(
        addr,
        "PATCH",
        &path,
        &reader,
        Some(&json!({"status": "Active"})),
    );
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "forbidden")
    );
    let changed = call(
        addr,
        "PATCH",
        &path,
        &analyst,
        Some(&json!({"status": "Active"})),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["status"], "Active");
    let listed = call(addr, "GET", "/api/incidents?status=Active", &reader, None).json();
    let numbers: Vec<String> = listed["incidents"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r[0].to_string())
        .collect();
    assert!(numbers.contains(&incident), "{numbers:?}");
    let wrong = call(
        addr,
        "PATCH",
        &path,
        &analyst,
        Some(&json!({"status": "Sleeping"})),
    );
    assert_eq!((wrong.status, wrong.code().as_str()), (400, "bad_request"));

    // Sessions are their owner's until shared.
    let asked = call(
        addr,
        "POST",
        "/api/ask",
        &analyst,
        Some(&json!({"prompt": "Show high severity incidents"})),
    );
    let session = asked.json()["session"]
        .as_str()
        .expect("a session")
        .to_string();
    let spath = format!("/api/sessions/{session}");
    assert_eq!(call(addr, "GET", &spath, &analyst, None).status, 200);
    let hidden = call(addr, "GET", &spath, &other, None);
    assert_eq!((hidden.status, hidden.code().as_str()), (404, "not_found"));
    let listed = call(addr, "GET", "/api/sessions", &other, None).json();
    assert!(!listed.to_string().contains(&session));
    let intruder = call(
        addr,
        "POST",
        "/api/ask",
        &other,
        Some(&json!({"prompt": "Show incidents", "session": session})),
    );
    assert_eq!(intruder.status, 404, "{}", intruder.body);
    let shared = call(
        addr,
        "POST",
        &format!("{spath}/share"),
        &analyst,
        Some(&json!({"shared": true})),
    );
    assert_eq!(shared.status, 200, "{}", shared.body);
    assert_eq!(call(addr, "GET", &spath, &other, None).status, 200);
    let not_theirs = call(
        addr,
        "POST",
        &format!("{spath}/share"),
        &other,
        Some(&json!({"shared": false})),
    );
    assert_eq!(not_theirs.status, 403);
    let still = call(
        addr,
        "POST",
        "/api/ask",
        &other,
        Some(&json!({"prompt": "Show incidents", "session": session})),
    );
    assert_eq!(
        still.status, 403,
        "a shared session is read, not written, by others"
    );

    // Pins make the owner's pinboard.
    let pinned = call(
        addr,
        "POST",
        &format!("{spath}/turns/1/pin"),
        &analyst,
        Some(&json!({"note": "for the shift"})),
    );
    assert_eq!(pinned.status, 200, "{}", pinned.body);
    let board = call(addr, "GET", "/api/pins", &analyst, None).json();
    assert_eq!(board["pins"][0]["note"], "for the shift");
    assert_eq!(board["pins"][0]["session"], session);
    let missing = call(
        addr,
        "POST",
        &format!("{spath}/turns/9/pin"),
        &analyst,
        Some(&json!({})),
    );
    assert_eq!(missing.status, 404);

    // Bad bodies and tokens get stable codes.
    let auth = bearer(&analyst);
    let broken = request(
        addr,
        "POST",
        "/api/query",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"{\"query\": ",
    );
    assert_eq!((broken.status, broken.code().as_str()), (400, "bad_body"));
    let typo = call(
        addr,
        "POST",
        "/api/query",
        &analyst,
        Some(&json!({"query": "SigninLogs | whre true"})),
    );
    assert_eq!((typo.status, typo.code().as_str()), (400, "bad_query"));
    let forged = call(addr, "GET", "/api/me", "vgl_forged", None);
    assert_eq!(
        (forged.status, forged.code().as_str()),
        (401, "unauthenticated")
    );
    let big = vec![b'x'; 2 << 20];
    let upload = request(
        addr,
        "POST",
        "/api/ingest?name=big.json",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/octet-stream"),
        ],
        &big,
    );
    assert_eq!((upload.status, upload.code().as_str()), (413, "too_large"));
    let garbage = request(
        addr,
        "POST",
        "/api/ingest?name=notes.json",
        &[("Authorization", &auth)],
        b"{\"this is\": not json\n",
    );
    assert!(
        garbage.status == 200 || garbage.status == 422,
        "{}",
        garbage.body
    );
    assert!(!garbage.body.is_empty());
    let admin_only = call(addr, "GET", "/api/users", &analyst, None);
    assert_eq!(admin_only.status, 403);

    // A browser logs in for a cookie; its changes need the CSRF token.
    let login = request(
        addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        json!({"username": "ana", "password": password})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let set_cookie = login.header("set-cookie").expect("a cookie").to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    let cookie = set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .to_string();
    let csrf = login.json()["csrf"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    let me = request(addr, "GET", "/api/me", &[("Cookie", &cookie)], b"");
    assert_eq!(me.json()["user"], "ana");
    let body = json!({"query": "SigninLogs | count"}).to_string();
    let without = request(
        addr,
        "POST",
        "/api/query",
        &[("Cookie", &cookie), ("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!((without.status, without.code().as_str()), (403, "csrf"));
    let with = request(
        addr,
        "POST",
        "/api/query",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/json"),
            ("X-CSRF-Token", &csrf),
        ],
        body.as_bytes(),
    );
    assert_eq!(with.status, 200, "{}", with.body);
    let bad = request(
        addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        br#"{"username": "ana", "password": "wrong one"}"#,
    );
    assert_eq!((bad.status, bad.code().as_str()), (401, "bad_login"));
    let out = request(
        addr,
        "POST",
        "/api/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        b"",
    );
    assert_eq!(out.status, 200);
    assert_eq!(
        request(addr, "GET", "/api/me", &[("Cookie", &cookie)], b"").status,
        401
    );
    // No password or token reaches the audit log.
    let db = std::fs::read(lake.path().join("vigil.db")).expect("the SQLite file");
    let text = String::from_utf8_lossy(&db);
    assert!(!text.contains(&password) && !text.contains(&analyst));
    drop(server);

    // A caller over the rate limit is told to wait.
    let server = serve(lake.path(), &["--rate-limit", "5"]);
    let statuses: Vec<u16> = (0..7)
        .map(|_| call(&server.addr, "GET", "/api/me", &reader, None).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
}

/// The folder of the browser test script.
fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vigil-server/tests/browser")
}

#[test]
fn the_web_app_works_in_headless_chromium() {
    let dir = browser_dir();
    if !dir.join("node_modules/playwright-core").exists() {
        // Playwright's client library only, from the npm registry; the browser is
        // Debian's chromium.
        let installed = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm runs (Node.js and npm are needed for the browser test)");
        assert!(installed.success(), "npm ci failed in {}", dir.display());
    }
    let lake = lake_copy();
    let (password, _) = account(lake.path(), "browser", "admin");
    let server = serve(lake.path(), &["--rate-limit", "0"]);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("a folder for screenshots");
    let out = std::process::Command::new("node")
        .arg("e2e.mjs")
        .current_dir(&dir)
        .env("VIGIL_URL", format!("http://{}", server.addr))
        .env("VIGIL_USER", "browser")
        .env("VIGIL_PASSWORD", &password)
        .env("VIGIL_SHOTS", &shots)
        .env("VIGIL_INCIDENT", first_high_incident(lake.path()))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pngs = std::fs::read_dir(&shots)
        .expect("screenshots")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png"))
        })
        .count();
    assert!(pngs >= 8, "{pngs} screenshots in {}", shots.display());
}
