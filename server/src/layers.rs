//! The request path: every request passes these layers, outermost first.
//! The order is the point: a layer only decorates the answers of the layers
//! inside it, so whatever must be on *every* answer sits outside everything
//! that can answer.
//!
//! 1. **Host check** (dev mode only): a request addressed to a name other
//!    than loopback gets `403 DEV_HOST_REFUSED` and nothing else (DNS
//!    rebinding).
//! 2. **Trace** (serve mode; outside the host check, which dev mode has
//!    instead): one `tower_http` span per request, at debug level.
//! 3. **Count**: `chathub_http_requests_total` by route and final status.
//! 4. **Headers**: `X-Content-Type-Options: nosniff` (and dev mode's
//!    `x-chathub-dev-mode`).
//! 5. **CORS** (`tower_http`, only with configured origins, only for the
//!    token endpoint): the outermost layer of all that answer, so every
//!    answer of the token endpoint (200, 4xx, 429, 502, 503, 504) carries
//!    `Access-Control-Allow-Origin` for an allowed origin, `Vary: Origin`
//!    and the exposed `Date` and `Retry-After`. A preflight is answered here.
//! 6. **Shape**: an error answer without a body (axum's 404 and 405, the
//!    timeout's 504) gets the JSON `{code, message}` body and
//!    `Cache-Control: no-store` like every other error.
//! 7. **Request timeout** (`tower_http`): `504 REQUEST_TIMEOUT` after
//!    [`crate::limits::Limits::request_timeout`]; a ChatHub flow under way goes on (it
//!    runs in its own task) and is cached for the next request.
//! 8. **Head limits**: `414 URI_TOO_LONG`, `431 HEADERS_TOO_LARGE` (header
//!    bytes or count). hyper's own limits are higher (see
//!    [`crate::server`]), so these answer first.
//! 9. **Routes**; the token route has the per-client rate limit (429)
//!    inside ([`crate::limits::rate_limited`]).
//!
//! Below all of this, [`crate::connection`] gives the few answers hyper
//! writes by itself (a head past its ceiling, garbage) the same shape.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::future::{Either, Ready};
use pin_project_lite::pin_project;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::ApiError;
use crate::limits::HttpOptions;
use crate::metrics::{HttpCounters, Metrics};
use crate::routes::{METRICS_PATH, TOKEN_PATH};

/// A check that may answer a request itself (dev mode's `Host` check).
pub(crate) type Refuse = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// Dev mode's outermost layer and its marker header.
#[derive(Clone)]
pub(crate) struct Front {
    /// Runs before anything else; an answer it gives goes out as is (not
    /// counted, no header added).
    pub(crate) refuse: Refuse,
    /// Set on every other answer.
    pub(crate) header: (HeaderName, HeaderValue),
}

/// `router` with the layers above, configured by `options`.
pub fn around(router: Router, options: &HttpOptions, metrics: &Metrics) -> Router {
    around_with(router, options, metrics, None)
}

/// [`around`], behind dev mode's `front` if given.
pub(crate) fn around_with(
    router: Router,
    options: &HttpOptions,
    metrics: &Metrics,
    front: Option<Front>,
) -> Router {
    let limits = options.limits;
    let marker = front
        .as_ref()
        .map(|f| SetResponseHeaderLayer::overriding(f.header.0.clone(), f.header.1.clone()));
    let stack = ServiceBuilder::new()
        .option_layer(front.map(|f| CheckLayer { check: f.refuse }))
        .layer(CountLayer {
            counters: Arc::new(metrics.http_counters(&ROUTE_LABELS)),
        })
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .option_layer(marker)
        .option_layer(cors(&options.allowed_origins))
        .layer(tower::util::MapResponseLayer::new(
            shape as fn(Response) -> Response,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            options.limits.request_timeout,
        ))
        .layer(CheckLayer {
            check: Arc::new(move |request: &Request| {
                limits.check(request).err().map(IntoResponse::into_response)
            }),
        });
    let router = router.layer(stack);
    if options.trace_requests {
        // A 5xx is an answer like any other here (ChatHub's failures are
        // logged once per attempt by the cache): not an error per request.
        let failures = tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG);
        router.layer(tower_http::trace::TraceLayer::new_for_http().on_failure(failures))
    } else {
        router
    }
}

/// CORS for the token endpoint and `origins` (normalised, see
/// [`crate::config::origin`]); none without origins.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let allowed = move |origin: &HeaderValue, parts: &axum::http::request::Parts| {
        parts.uri.path() == TOKEN_PATH && origins.contains(origin)
    };
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(allowed))
            .allow_methods([Method::GET])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            // The loader reads the server's clock and the backoff hint.
            .expose_headers([header::DATE, header::RETRY_AFTER])
            .allow_credentials(true)
            .max_age(Duration::from_secs(600)),
    )
}

/// An error answer without a body, in the documented shape.
fn shape(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("NOT_FOUND", "There is nothing at this path."),
        StatusCode::METHOD_NOT_ALLOWED => ("METHOD_NOT_ALLOWED", "This path only answers GET."),
        StatusCode::GATEWAY_TIMEOUT | StatusCode::REQUEST_TIMEOUT => {
            ("REQUEST_TIMEOUT", "The request took too long; try again.")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("BODY_TOO_LARGE", "The request body is too large."),
        s if s.is_client_error() => ("BAD_REQUEST", "The request was refused."),
        _ => ("INTERNAL", "The service failed to answer."),
    };
    let (parts, _) = response.into_parts();
    let mut shaped = ApiError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}

/// The `route` label's values: the known routes by name, everything else
/// as `other` (so clients cannot grow the label set).
const ROUTE_LABELS: [&str; 5] = [TOKEN_PATH, "/healthz", "/readyz", METRICS_PATH, "other"];

/// The index in [`ROUTE_LABELS`] of `path`'s label.
fn route_label(path: &str) -> usize {
    match path {
        TOKEN_PATH => 0,
        "/healthz" => 1,
        "/readyz" => 2,
        METRICS_PATH => 3,
        _ => 4,
    }
}

/// Answered at once, or by the inner service.
type MaybeAnswered<F> = Either<Ready<Result<Response, Infallible>>, F>;

/// A layer that answers a request itself when `check` says so: dev mode's
/// host check, the head limits.
#[derive(Clone)]
struct CheckLayer {
    check: Refuse,
}

impl<S> Layer<S> for CheckLayer {
    type Service = Check<S>;

    fn layer(&self, inner: S) -> Check<S> {
        Check {
            inner,
            check: self.check.clone(),
        }
    }
}

#[derive(Clone)]
struct Check<S> {
    inner: S,
    check: Refuse,
}

impl<S> Service<Request> for Check<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = MaybeAnswered<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match (self.check)(&request) {
            Some(answer) => Either::Left(futures::future::ready(Ok(answer))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}

#[derive(Clone)]
struct CountLayer {
    counters: Arc<HttpCounters>,
}

impl<S> Layer<S> for CountLayer {
    type Service = Count<S>;

    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            counters: self.counters.clone(),
        }
    }
}

#[derive(Clone)]
struct Count<S> {
    inner: S,
    counters: Arc<HttpCounters>,
}

impl<S, B> Service<Request> for Count<S>
where
    S: Service<Request, Response = axum::http::Response<B>, Error = Infallible>,
{
    type Response = axum::http::Response<B>;
    type Error = Infallible;
    type Future = Counted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Counted {
            route: route_label(request.uri().path()),
            counters: self.counters.clone(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    struct Counted<F> {
        #[pin]
        inner: F,
        route: usize,
        counters: Arc<HttpCounters>,
    }
}

impl<F, B> Future for Counted<F>
where
    F: Future<Output = Result<axum::http::Response<B>, Infallible>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            this.counters
                .record(*this.route, response.status().as_u16());
        }
        Poll::Ready(result)
    }
}
