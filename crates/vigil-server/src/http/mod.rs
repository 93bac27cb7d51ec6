//! `vigil serve`: the web app, the REST API and MCP over HTTP, on one listener.
//!
//! Every route but the web app's files, `/api/health`, `/api/openapi.json` and
//! `/api/login` needs a caller: `Authorization: Bearer TOKEN`, or the cookie a browser
//! gets from `/api/login` (whose changes must then carry `X-CSRF-Token`). Errors are
//! JSON: `{"error": {"code": "…", "message": "…"}}` with a stable code.
//!
//! Tokens and logins belong to local accounts ([`crate::users`]): readers read sessions
//! shared with them, skills, tables and incidents; analysts also ask, run promptbooks,
//! skills and KQL, ingest files and change incidents; admins also manage accounts and
//! plugins and read the audit log. Sessions are their owner's until shared.
//!
//! A copilot keeps SQLite connections, which serve one thread at a time, so the server
//! keeps a pool of them ([`Options::copilots`]): each request that needs one takes one
//! for as long as it answers, on a blocking thread. Copilots are opened as concurrent
//! requests first need them, and opened again after the lake or the plugins change.

mod account;
mod chat;

pub use chat::turn_json;
pub use incidents::verdict_word;
mod hunt;
mod incidents;
mod manage;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Semaphore;
use vigil_copilot::Copilot;
use vigil_copilot::promptbook::Promptbook;

use crate::users::{Role, UserError, Users, random_hex};

/// How `vigil serve` guards itself.
#[derive(Debug, Clone)]
pub struct Options {
    /// Mark the login cookie `Secure` (browsers then send it over HTTPS only, and over
    /// plain HTTP to loopback).
    pub secure_cookies: bool,
    /// The largest JSON body taken.
    pub max_body_bytes: usize,
    /// The largest file `/api/ingest` takes.
    pub max_upload_bytes: usize,
    /// Requests a minute from one caller (a token, a login or an address); 0 for no limit.
    pub requests_per_minute: u32,
    /// How many requests may use a copilot at once (each holds its own).
    pub copilots: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            secure_cookies: true,
            max_body_bytes: 1 << 20,
            max_upload_bytes: 256 << 20,
            requests_per_minute: 1200,
            copilots: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// A change to an incident's verdict.
#[derive(Debug, Clone, Default)]
pub struct IncidentChange {
    pub status: Option<String>,
    pub classification: Option<String>,
    pub reason: Option<String>,
    pub comment: Option<String>,
}

/// What the server asks of the program that runs it: the work that lives beside the
/// copilot (writing incidents, ingesting files, opening the copilot again after either).
/// Each call runs on a blocking thread; `rt` runs async work.
pub trait Backend: Send + Sync + 'static {
    /// The data directory (plugins live there).
    fn data_dir(&self) -> &Path;
    /// A copilot over the lake as it is now.
    fn open_copilot(&self, rt: &tokio::runtime::Handle) -> Result<Copilot, String>;
    /// Writes a new verdict for incident `number`; returns what changed, in words.
    fn set_incident(
        &self,
        rt: &tokio::runtime::Handle,
        number: u64,
        change: &IncidentChange,
        actor: &str,
    ) -> Result<String, String>;
    /// Reads one file into the lake (`table` for rows in a catalog table's shape).
    fn ingest(
        &self,
        rt: &tokio::runtime::Handle,
        file: &Path,
        table: Option<&str>,
    ) -> Result<Json, String>;
    /// The built-in promptbooks and the data directory's own.
    fn promptbooks(&self) -> Vec<Promptbook>;
}

/// The copilots requests take turns with. Each is tagged with the generation of the lake
/// it was opened over; one older than the current generation is opened again before use.
struct Pool {
    idle: std::sync::Mutex<Vec<(u64, Copilot)>>,
    slots: Semaphore,
    generation: AtomicU64,
}

/// What the handlers share.
pub struct Shared {
    pool: Pool,
    users: std::sync::Mutex<Users>,
    backend: Arc<dyn Backend>,
    options: Options,
    db_path: PathBuf,
    /// Requests per caller in the current minute.
    counts: std::sync::Mutex<HashMap<String, (Instant, u32)>>,
}

/// A JSON error with a stable code.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> ApiError {
        match e {
            UserError::Unknown(_) => ApiError::not_found(e.to_string()),
            UserError::Exists(_) => ApiError::new(StatusCode::CONFLICT, "exists", e.to_string()),
            UserError::BadName(_) => ApiError::bad_request(e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }
    }
}

pub(crate) type Reply = Result<axum::Json<Json>, ApiError>;

/// A JSON body, or an error saying what is wrong with it.
pub(crate) fn body_of(given: Result<axum::Json<Json>, JsonRejection>) -> Result<Json, ApiError> {
    match given {
        Ok(axum::Json(v)) if v.is_object() => Ok(v),
        Ok(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "the body must be a JSON object",
        )),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the body is larger than this server takes",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            e.body_text(),
        )),
    }
}

/// A string field of a body.
pub(crate) fn text_field(body: &Json, name: &str) -> Option<String> {
    body.get(name)
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// On the first start (no accounts yet), makes the `admin` account with a one-time
/// password and a token, and returns both to show once.
pub fn first_start(db_path: &Path) -> Result<Option<(String, String)>, UserError> {
    let users = Users::open(db_path)?;
    if !users.is_empty()? {
        return Ok(None);
    }
    let password = random_hex(12)?;
    users.add("admin", Role::Admin, &password)?;
    let token = users.new_token("admin")?;
    Ok(Some((password, token)))
}

/// The whole application over a copilot; accounts and tokens live in the SQLite file
/// `db_path`.
pub fn router(
    copilot: Copilot,
    db_path: &Path,
    backend: Arc<dyn Backend>,
    options: Options,
) -> Result<Router, UserError> {
    let max_body = options.max_body_bytes;
    let max_upload = options.max_upload_bytes;
    let shared = Arc::new(Shared {
        pool: Pool {
            idle: std::sync::Mutex::new(vec![(0, copilot)]),
            slots: Semaphore::new(options.copilots.max(1)),
            generation: AtomicU64::new(0),
        },
        users: std::sync::Mutex::new(Users::open(db_path)?),
        backend,
        options,
        db_path: db_path.to_path_buf(),
        counts: std::sync::Mutex::new(HashMap::new()),
    });
    let api = Router::new()
        .route(
            "/api/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/api/openapi.json", get(openapi))
        .route("/api/login", post(account::login))
        .route("/api/logout", post(account::logout))
        .route("/api/me", get(account::me))
        .route("/api/ask", post(chat::ask))
        .route("/api/sessions", get(chat::sessions))
        .route("/api/sessions/{id}", get(chat::session))
        .route("/api/sessions/{id}/share", post(chat::share))
        .route("/api/sessions/{id}/turns/{n}/pin", post(chat::pin))
        .route(
            "/api/sessions/{id}/turns/{n}/feedback",
            post(chat::feedback),
        )
        .route("/api/pins", get(chat::pins))
        .route("/api/promptbooks", get(chat::promptbooks))
        .route("/api/promptbooks/{name}/run", post(chat::run_promptbook))
        .route("/api/skills", get(chat::skills))
        .route("/api/skills/{name}", post(chat::invoke))
        .route("/api/incidents", get(incidents::list))
        .route(
            "/api/incidents/{n}",
            get(incidents::show).patch(incidents::change),
        )
        .route("/api/incidents/{n}/report", get(incidents::report))
        .route("/api/query", post(hunt::query))
        .route("/api/tables", get(hunt::tables))
        .route(
            "/api/ingest",
            post(hunt::ingest).layer(DefaultBodyLimit::max(max_upload)),
        )
        .route(
            "/api/plugins",
            get(manage::plugins).post(manage::add_plugin),
        )
        .route("/api/plugins/validate", post(manage::validate_plugin))
        .route(
            "/api/plugins/{name}",
            axum::routing::patch(manage::change_plugin).delete(manage::remove_plugin),
        )
        .route("/api/users", get(manage::users).post(manage::add_user))
        .route(
            "/api/users/{name}",
            axum::routing::delete(manage::remove_user),
        )
        .route("/api/users/{name}/tokens", post(manage::new_token))
        .route("/api/audit", get(manage::audit_log))
        .route("/mcp", post(chat::mcp))
        .layer(DefaultBodyLimit::max(max_body));
    let mut app = api;
    for (path, kind, body) in crate::assets::ASSETS {
        let kind = *kind;
        let body = *body;
        app = app.route(
            path,
            get(move || async move { ([(header::CONTENT_TYPE, kind)], body) }),
        );
    }
    Ok(app
        .fallback(|| async { ApiError::not_found("no such route (see /api/openapi.json)") })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared))
}

/// The headers every answer carries: a strict Content Security Policy (the web app loads
/// nothing but its own files and talks to nothing but this server), no sniffing, no
/// framing, no referrer; API answers are not cached.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Rate limits each caller, then adds the security headers.
async fn guard(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/") || req.uri().path() == "/mcp";
    if is_api && let Err(e) = count_request(&shared, &req) {
        return with_headers(e.into_response(), true);
    }
    let response = next.run(req).await;
    with_headers(response, is_api)
}

fn with_headers(mut response: Response, is_api: bool) -> Response {
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Who is asking, for rate limits: the credential when there is one, else the address.
fn caller_key(req: &Request) -> String {
    let h = req.headers();
    if let Some(t) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return format!("token:{}", short_hash(t));
    }
    if let Some(c) = cookie(h, account::COOKIE) {
        return format!("login:{}", short_hash(&c));
    }
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    format!("address:{addr}")
}

fn short_hash(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn count_request(shared: &Shared, req: &Request) -> Result<(), ApiError> {
    let limit = shared.options.requests_per_minute;
    if limit == 0 {
        return Ok(());
    }
    let key = caller_key(req);
    let mut counts = shared
        .counts
        .lock()
        .map_err(|_| ApiError::internal("the rate limiter failed"))?;
    let now = Instant::now();
    if counts.len() > 10_000 {
        counts.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
    }
    let entry = counts.entry(key).or_insert((now, 0));
    if now.duration_since(entry.0) >= Duration::from_secs(60) {
        *entry = (now, 0);
    }
    entry.1 += 1;
    if entry.1 > limit {
        let wait = 60u64.saturating_sub(now.duration_since(entry.0).as_secs());
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("more than {limit} requests in a minute: try again in {wait} s"),
        ));
    }
    Ok(())
}

/// A cookie's value.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The account behind a request.
pub(crate) struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// Refuses a caller whose role is below `needed`.
    pub fn need(&self, needed: Role) -> Result<(), ApiError> {
        if self.role < needed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "{} is a {}; this needs an {} or above",
                    self.name,
                    self.role.name(),
                    needed.name()
                ),
            ));
        }
        Ok(())
    }
}

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Caller, ApiError> {
        let users = shared
            .users
            .lock()
            .map_err(|_| ApiError::internal("the account store failed"))?;
        if let Some(given) = parts.headers.get(header::AUTHORIZATION) {
            let token = given
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        "send Authorization: Bearer TOKEN",
                    )
                })?;
            let Some((name, role)) = users.authenticate(token)? else {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "the token is not valid",
                ));
            };
            return Ok(Caller { name, role });
        }
        let Some(secret) = cookie(&parts.headers, account::COOKIE) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "log in, or send Authorization: Bearer TOKEN",
            ));
        };
        let Some(web) = users.web_session(&secret)? else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the login has expired: log in again",
            ));
        };
        // A browser's changes carry the token only the app's own pages can read.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if sent != Some(web.csrf.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "a change from a browser must carry the X-CSRF-Token its login gave",
                ));
            }
        }
        Ok(Caller {
            name: web.user,
            role: web.role,
        })
    }
}

/// Runs `work` with a copilot on a blocking thread (its futures need not be `Send`),
/// waiting for one to be free when as many requests as the pool allows are answering.
pub(crate) async fn with_copilot<T, F>(shared: &Arc<Shared>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Copilot, &tokio::runtime::Handle) -> T + Send + 'static,
{
    let _slot = shared
        .pool
        .slots
        .acquire()
        .await
        .map_err(|_| ApiError::internal("the server is stopping"))?;
    let shared = shared.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let pool = &shared.pool;
        let current = pool.generation.load(Ordering::SeqCst);
        let taken = pool.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut copilot = match taken {
            Some((generation, copilot)) if generation == current => copilot,
            // None free (the pool grows to its size), or opened before a change.
            _ => shared
                .backend
                .open_copilot(&handle)
                .map_err(ApiError::internal)?,
        };
        let out = work(&mut copilot, &handle);
        if let Ok(mut idle) = pool.idle.lock() {
            idle.push((current, copilot));
        }
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// After a change to the lake or the plugins: every copilot opened before it is opened
/// again before its next use.
pub(crate) fn lake_changed(shared: &Shared) {
    shared.pool.generation.fetch_add(1, Ordering::SeqCst);
}

/// Appends to the audit log (a failure to audit fails the request).
pub(crate) fn audit(c: &Copilot, actor: &str, action: &str, detail: Json) -> Result<(), ApiError> {
    if let Some(store) = c.sessions() {
        store
            .audit(actor, action, &detail, chrono::Utc::now())
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    Ok(())
}

async fn openapi() -> axum::Json<Json> {
    axum::Json(crate::openapi::document())
}
