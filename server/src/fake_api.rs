//! An in-process fake of the ChatHub API for dev mode and tests. It follows
//! the API table: HS256 JWTs with `exp`, the 24 h cap, `validate-token`,
//! operator statuses. Test knobs make the next calls fail, slow down or
//! drop, shorten token lifetimes and revoke company tokens.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The fake company login (dev only; not a secret).
pub const DEV_LOGIN: &str = "dev-company";
/// The fake company password (dev only; not a secret).
pub const DEV_PASSWORD: &str = "dev-password";
/// A marker the fake puts in its error bodies; it must never reach a page.
pub const UPSTREAM_ERROR_MARKER: &str = "fake-chathub-internal-detail";

/// The call names used by the stats and by fault filters.
pub const ENDPOINTS: &[&str] = &[
    "company_get_token",
    "organization",
    "operators",
    "synchronize",
    "get_token",
    "validate_token",
    "widget_session",
];

const CAP: Duration = Duration::from_secs(24 * 60 * 60);
const CAP_SKEW: Duration = Duration::from_secs(60);
const COMPANY_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// What an injected failure does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// How many calls it affects.
    #[serde(default = "one")]
    pub count: u32,
    /// Only calls to this endpoint (see [`ENDPOINTS`]); by default every
    /// API call except the widget's own session check.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Answer with this status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Wait this long first.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Drop the connection instead of answering.
    #[serde(default)]
    pub drop: bool,
}

fn one() -> u32 {
    1
}

/// Random failures for load tests: every matching call fails or hangs with
/// these odds, until recovered. Applies after a pending [`Fault`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chaos {
    /// Percent of calls answered with `status` at once (0 to 100).
    #[serde(default)]
    pub fail_percent: f64,
    /// Percent of calls that hang for `hang_ms`, then answer `status` (0 to 100).
    #[serde(default)]
    pub hang_percent: f64,
    /// How long a hanging call waits.
    #[serde(default = "default_hang_ms")]
    pub hang_ms: u64,
    /// The status of a failed or hung call.
    #[serde(default = "default_chaos_status")]
    pub status: u16,
    /// Only calls to this endpoint (see [`ENDPOINTS`]); by default every
    /// API call except the widget's own session check.
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn default_hang_ms() -> u64 {
    30_000
}

fn default_chaos_status() -> u16 {
    503
}

impl Chaos {
    /// Whether the odds are in range and the status is an HTTP status.
    pub fn is_valid(&self) -> bool {
        let pct = 0.0..=100.0;
        pct.contains(&self.fail_percent)
            && pct.contains(&self.hang_percent)
            && self.fail_percent + self.hang_percent <= 100.0
            && (100..=599).contains(&self.status)
    }

    fn matches(&self, endpoint: &str) -> bool {
        match &self.endpoint {
            Some(e) => e == endpoint,
            None => endpoint != "widget_session",
        }
    }
}

#[derive(Debug, Clone)]
struct FakeOrg {
    id: i64,
    name: String,
}

#[derive(Debug, Clone)]
struct FakeOperator {
    id: i64,
    name: String,
    status: i64,
    org_id: i64,
}

#[derive(Debug)]
struct FakeState {
    orgs: Vec<FakeOrg>,
    operators: Vec<FakeOperator>,
    stats: BTreeMap<&'static str, u64>,
    fault: Option<Fault>,
    chaos: Option<Chaos>,
    lifetime: Option<Duration>,
    company_lifetime: Duration,
    company_generation: u64,
    next_jti: u64,
    login: String,
    password: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    typ: String,
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(default)]
    gen: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    org_id: i64,
    #[serde(default)]
    org_name: String,
}

/// The fake ChatHub. Share it as `Arc<FakeChatHub>`.
pub struct FakeChatHub {
    state: Mutex<FakeState>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for FakeChatHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeChatHub").finish_non_exhaustive()
    }
}

impl Default for FakeChatHub {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeChatHub {
    /// A fake with two organisations (`Sales` id 1, `Support` id 2) and
    /// operators in every status; each instance signs with its own key.
    pub fn new() -> Self {
        Self::with_credentials(DEV_LOGIN, DEV_PASSWORD)
    }

    /// Like [`FakeChatHub::new`], accepting other company credentials.
    pub fn with_credentials(login: &str, password: &str) -> Self {
        let secret = random_secret();
        let org = |id, name: &str| FakeOrg {
            id,
            name: name.into(),
        };
        let op = |id, name: &str, status, org_id| FakeOperator {
            id,
            name: name.into(),
            status,
            org_id,
        };
        FakeChatHub {
            state: Mutex::new(FakeState {
                orgs: vec![org(1, "Sales"), org(2, "Support")],
                operators: vec![
                    op(101, "Olha Inactive", 1, 1),
                    op(102, "Marta Kovalenko", 0, 1),
                    op(103, "Petro Deleted", 2, 1),
                    op(104, "Andrii Shevchuk", 0, 1),
                    op(201, "Ivan Petrenko", 0, 2),
                ],
                stats: ENDPOINTS.iter().map(|e| (*e, 0)).collect(),
                fault: None,
                chaos: None,
                lifetime: None,
                company_lifetime: COMPANY_TOKEN_LIFETIME,
                company_generation: 0,
                next_jti: 0,
                login: login.to_owned(),
                password: password.to_owned(),
            }),
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
        }
    }

    /// Calls received, by endpoint.
    pub fn stats(&self) -> BTreeMap<&'static str, u64> {
        self.lock().stats.clone()
    }

    /// Makes the next `fault.count` matching calls fail.
    pub fn set_fault(&self, fault: Fault) {
        self.lock().fault = (fault.count > 0).then_some(fault);
    }

    /// The pending fault, if any.
    pub fn fault(&self) -> Option<Fault> {
        self.lock().fault.clone()
    }

    /// Removes the pending fault and any chaos.
    pub fn clear_fault(&self) {
        let mut s = self.lock();
        s.fault = None;
        s.chaos = None;
    }

    /// Makes calls fail or hang at random (`None`, or no odds: stop).
    pub fn set_chaos(&self, chaos: Option<Chaos>) {
        self.lock().chaos = chaos.filter(|c| c.fail_percent > 0.0 || c.hang_percent > 0.0);
    }

    /// The chaos in force, if any.
    pub fn chaos(&self) -> Option<Chaos> {
        self.lock().chaos.clone()
    }

    /// Caps the lifetime of new operator tokens (`None`: as requested).
    pub fn set_token_lifetime(&self, lifetime: Option<Duration>) {
        self.lock().lifetime = lifetime;
    }

    /// The cap on new operator tokens' lifetime, if any.
    pub fn token_lifetime(&self) -> Option<Duration> {
        self.lock().lifetime
    }

    /// The lifetime of new company tokens (1 h unless set).
    pub fn set_company_token_lifetime(&self, lifetime: Duration) {
        self.lock().company_lifetime = lifetime;
    }

    /// Makes every company token issued so far answer 401.
    pub fn revoke_company_tokens(&self) {
        self.lock().company_generation += 1;
    }

    /// Clears faults, chaos, the lifetime cap and the stats.
    pub fn reset(&self) {
        let mut s = self.lock();
        s.fault = None;
        s.chaos = None;
        s.lifetime = None;
        s.company_lifetime = COMPANY_TOKEN_LIFETIME;
        for v in s.stats.values_mut() {
            *v = 0;
        }
    }

    /// The API routes (`/api/...`), to be nested under a prefix.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/api/company/get-token", post(company_get_token))
            .route("/api/company/organization", get(organizations))
            .route("/api/operator", get(operators))
            .route("/api/operator/synchronize", post(synchronize))
            .route("/api/operator/get-token", post(operator_get_token))
            .route("/api/operator/validate-token", post(validate_token))
            .route("/api/widget/session", get(widget_session))
            .with_state(self)
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts the call and applies a pending fault or chaos; `Some` is the answer.
    async fn enter(&self, endpoint: &'static str) -> Option<Response> {
        let fault = {
            let mut s = self.lock();
            *s.stats.entry(endpoint).or_default() += 1;
            let matches = s.fault.as_ref().is_some_and(|f| match &f.endpoint {
                Some(e) => e == endpoint,
                None => endpoint != "widget_session",
            });
            if matches {
                let mut f = s.fault.take()?;
                f.count -= 1;
                let this = f.clone();
                if f.count > 0 {
                    s.fault = Some(f);
                }
                Some(this)
            } else {
                s.chaos
                    .as_ref()
                    .filter(|c| c.matches(endpoint))
                    .and_then(Self::roll)
            }
        }?;
        if let Some(ms) = fault.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if fault.drop {
            let broken = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other(
                    "connection dropped by a dev fault",
                ))
            });
            return Some(Response::new(Body::from_stream(broken)));
        }
        let status =
            StatusCode::from_u16(fault.status?).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Some(upstream_error(status, "injected failure"))
    }

    /// This call's fate under `chaos`: fail, hang then fail, or `None` (answer).
    fn roll(chaos: &Chaos) -> Option<Fault> {
        let dice = fastrand::f64() * 100.0;
        let fail = Fault {
            count: 1,
            status: Some(chaos.status),
            ..Fault::default()
        };
        if dice < chaos.fail_percent {
            Some(fail)
        } else if dice < chaos.fail_percent + chaos.hang_percent {
            Some(Fault {
                delay_ms: Some(chaos.hang_ms),
                ..fail
            })
        } else {
            None
        }
    }

    fn sign(&self, claims: &Claims) -> Option<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).ok()
    }

    fn decode(&self, token: &str, typ: &str) -> Result<Claims, &'static str> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.required_spec_claims = ["exp".to_owned()].into_iter().collect();
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &v) {
            Ok(data) if data.claims.typ == typ => Ok(data.claims),
            Ok(_) => Err("invalid token"),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err("token expired")
            }
            Err(_) => Err("invalid token"),
        }
    }

    fn jti(&self) -> String {
        let mut s = self.lock();
        s.next_jti += 1;
        format!("fake-{}", s.next_jti)
    }

    /// `Some(401)` unless the request carries a current company token.
    fn company_refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| {
                headers
                    .get("x-authorization-key")
                    .and_then(|v| v.to_str().ok())
            });
        let generation = self.lock().company_generation;
        match token.map(|t| self.decode(t.trim(), "company")) {
            Some(Ok(c)) if c.gen == generation => None,
            _ => Some(upstream_error(
                StatusCode::UNAUTHORIZED,
                "company token required",
            )),
        }
    }
}

fn upstream_error(status: StatusCode, what: &str) -> Response {
    let body = json!({
        "error": what,
        "detail": UPSTREAM_ERROR_MARKER,
        "trace": "at FakeChatHub.handle (fake_api.rs)",
    });
    (status, Json(body)).into_response()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn random_secret() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    let mut out = Vec::with_capacity(32);
    for i in 0..4u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(now().unix_timestamp_nanos() as u128);
        out.extend_from_slice(&h.finish().to_le_bytes());
    }
    out
}

type Fake = State<Arc<FakeChatHub>>;

async fn company_get_token(State(fake): Fake, body: Bytes) -> Response {
    if let Some(r) = fake.enter("company_get_token").await {
        return r;
    }
    #[derive(Deserialize)]
    struct Login {
        login: String,
        password: String,
    }
    let Ok(login) = serde_json::from_slice::<Login>(&body) else {
        return upstream_error(StatusCode::BAD_REQUEST, "login and password required");
    };
    let accepted = {
        let s = fake.lock();
        login.login == s.login && login.password == s.password
    };
    if !accepted {
        return upstream_error(StatusCode::UNAUTHORIZED, "invalid credentials");
    }
    let t = now();
    let (lifetime, generation) = {
        let s = fake.lock();
        (s.company_lifetime, s.company_generation)
    };
    let claims = Claims {
        sub: login.login,
        typ: "company".into(),
        iat: t.unix_timestamp(),
        exp: (t + lifetime).unix_timestamp(),
        jti: fake.jti(),
        gen: generation,
        name: String::new(),
        org_id: 0,
        org_name: String::new(),
    };
    match fake.sign(&claims) {
        Some(jwt) => Json(Value::String(jwt)).into_response(),
        None => upstream_error(StatusCode::INTERNAL_SERVER_ERROR, "signing failed"),
    }
}

async fn organizations(State(fake): Fake, headers: HeaderMap) -> Response {
    if let Some(r) = fake.enter("organization").await {
        return r;
    }
    if let Some(r) = fake.company_refusal(&headers) {
        return r;
    }
    let orgs: Vec<Value> = fake
        .lock()
        .orgs
        .iter()
        .map(|o| json!({ "id": o.id, "name": o.name }))
        .collect();
    Json(orgs).into_response()
}

fn operator_json(s: &FakeState, op: &FakeOperator) -> Value {
    let org_name = s
        .orgs
        .iter()
        .find(|o| o.id == op.org_id)
        .map(|o| o.name.clone())
        .unwrap_or_default();
    json!({
        "id": op.id,
        "name": op.name,
        "status": op.status,
        "organization": { "id": op.org_id, "name": org_name },
    })
}

#[derive(Deserialize)]
struct OperatorsQuery {
    #[serde(rename = "organizationId")]
    organization_id: Option<String>,
}

async fn operators(
    State(fake): Fake,
    headers: HeaderMap,
    query: Result<Query<OperatorsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Some(r) = fake.enter("operators").await {
        return r;
    }
    if let Some(r) = fake.company_refusal(&headers) {
        return r;
    }
    let Some(org_id) = query
        .ok()
        .and_then(|Query(q)| q.organization_id)
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return upstream_error(StatusCode::BAD_REQUEST, "organizationId required");
    };
    let s = fake.lock();
    let list: Vec<Value> = s
        .operators
        .iter()
        .filter(|op| op.org_id == org_id)
        .map(|op| operator_json(&s, op))
        .collect();
    Json(list).into_response()
}

async fn synchronize(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = fake.enter("synchronize").await {
        return r;
    }
    if let Some(r) = fake.company_refusal(&headers) {
        return r;
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct NewOperator {
        organization_id: i64,
        name: String,
    }
    let Ok(wanted) = serde_json::from_slice::<Vec<NewOperator>>(&body) else {
        return upstream_error(
            StatusCode::BAD_REQUEST,
            "a list of {organizationId, name} required",
        );
    };
    let mut s = fake.lock();
    let mut out = Vec::new();
    for w in wanted {
        if !s.orgs.iter().any(|o| o.id == w.organization_id) {
            return upstream_error(StatusCode::BAD_REQUEST, "unknown organization");
        }
        let existing = s
            .operators
            .iter()
            .position(|op| op.org_id == w.organization_id && op.name == w.name);
        let idx = match existing {
            Some(i) => i,
            None => {
                let id = s.operators.iter().map(|op| op.id).max().unwrap_or(0) + 1;
                s.operators.push(FakeOperator {
                    id,
                    name: w.name,
                    status: 0,
                    org_id: w.organization_id,
                });
                s.operators.len() - 1
            }
        };
        out.push(operator_json(&s, &s.operators[idx]));
    }
    Json(out).into_response()
}

async fn operator_get_token(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = fake.enter("get_token").await {
        return r;
    }
    if let Some(r) = fake.company_refusal(&headers) {
        return r;
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Ask {
        id: Value,
        expires_at: String,
    }
    let Ok(ask) = serde_json::from_slice::<Ask>(&body) else {
        return upstream_error(StatusCode::BAD_REQUEST, "id and expiresAt required");
    };
    let Ok(expires_at) = OffsetDateTime::parse(&ask.expires_at, &Rfc3339) else {
        return upstream_error(StatusCode::BAD_REQUEST, "expiresAt must be ISO-8601");
    };
    let t = now();
    if expires_at <= t {
        return upstream_error(StatusCode::BAD_REQUEST, "expiresAt is in the past");
    }
    if expires_at > t + CAP + CAP_SKEW {
        return upstream_error(
            StatusCode::BAD_REQUEST,
            "expiresAt must be at most 24 h ahead",
        );
    }
    let id = ask
        .id
        .as_i64()
        .or_else(|| ask.id.as_str().and_then(|s| s.parse().ok()));
    let (op, org, lifetime) = {
        let s = fake.lock();
        let Some(op) = s.operators.iter().find(|op| Some(op.id) == id).cloned() else {
            return upstream_error(StatusCode::NOT_FOUND, "operator not found");
        };
        let org = s.orgs.iter().find(|o| o.id == op.org_id).cloned();
        (op, org, s.lifetime)
    };
    if op.status != 0 {
        return upstream_error(StatusCode::CONFLICT, "operator is not active");
    }
    let exp = match lifetime {
        Some(l) if t + l < expires_at => t + l,
        _ => expires_at,
    };
    let org = org.unwrap_or(FakeOrg {
        id: op.org_id,
        name: String::new(),
    });
    let claims = Claims {
        sub: op.id.to_string(),
        typ: "operator".into(),
        iat: t.unix_timestamp(),
        exp: exp.unix_timestamp(),
        jti: fake.jti(),
        gen: 0,
        name: op.name,
        org_id: org.id,
        org_name: org.name,
    };
    match fake.sign(&claims) {
        Some(jwt) => Json(Value::String(jwt)).into_response(),
        None => upstream_error(StatusCode::INTERNAL_SERVER_ERROR, "signing failed"),
    }
}

/// An operator token is valid when signed by this fake, unexpired, and its
/// operator still exists and is active.
fn check_operator_token(fake: &FakeChatHub, token: &str) -> Result<Claims, &'static str> {
    let claims = fake.decode(token, "operator")?;
    let s = fake.lock();
    let active = s
        .operators
        .iter()
        .any(|op| op.id.to_string() == claims.sub && op.status == 0);
    if active {
        Ok(claims)
    } else {
        Err("operator is not active")
    }
}

async fn validate_token(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = fake.enter("validate_token").await {
        return r;
    }
    if let Some(r) = fake.company_refusal(&headers) {
        return r;
    }
    let text = String::from_utf8_lossy(&body);
    let token = match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(m)) => m
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => text.trim().to_owned(),
    };
    Json(Value::Bool(check_operator_token(&fake, &token).is_ok())).into_response()
}

/// Dev only: what the stand-in widget asks with its operator token
/// (`Authorization: Bearer <operator token>`); no company credentials.
async fn widget_session(State(fake): Fake, headers: HeaderMap) -> Response {
    if let Some(r) = fake.enter("widget_session").await {
        return r;
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match check_operator_token(&fake, token.trim()) {
        Ok(c) => {
            let expires_at = OffsetDateTime::from_unix_timestamp(c.exp)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok());
            Json(json!({
                "valid": true,
                "operator": { "id": c.sub, "name": c.name },
                "organization": { "id": c.org_id, "name": c.org_name },
                "expiresAt": expires_at,
            }))
            .into_response()
        }
        Err(reason) => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "valid": false, "error": reason })),
        )
            .into_response(),
    }
}
