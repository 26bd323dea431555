//! One request to the page's token endpoint, read before it is trusted:
//! status first, then the JSON shape, then both expiry claims; what comes
//! back is an [`Answer`] for the machine, which judges the expiry against
//! the server's clock (`crate::core`). Its deadline is the machine's too:
//! dropping the future (timeout, destroy) aborts the request.

use js_sys::JSON;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Response};

use crate::core::{schedule, Answer};
use crate::error::{ErrorCode, LoaderError};
use crate::jwt;
use crate::options::Options;
use crate::prelude::*;
use crate::text::{cat, num};

/// The largest token answer read (`{token, expiresAt}` is a few hundred
/// bytes; anything near this is not a token endpoint's answer).
pub const MAX_ANSWER_BYTES: u32 = 64 * 1024;
/// The largest token accepted: it goes into a DOM attribute.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[wasm_bindgen(module = "/js/net.js")]
extern "C" {
    /// The body as text, or null past `max` bytes (see `js/net.js`).
    #[wasm_bindgen(js_name = readText)]
    fn read_text(resp: &Response, max: u32) -> js_sys::Promise;
    /// The server's clock now by the answer's `Date` (NaN where the page
    /// cannot read it, or unless `fresh`: not a cache's copy); an early
    /// answer is older by the time it waited.
    #[wasm_bindgen(js_name = serverNow)]
    fn server_now(resp: &Response, fresh: bool) -> f64;
    /// Whether the answer is an early one (prefetchToken's), taken. The
    /// unused `u32`: an import needing no conversion is bound directly,
    /// and `net.js` would be imported as a namespace (see `mono_now_js`).
    #[wasm_bindgen(js_name = takenEarly)]
    fn taken_early(resp: &Response, _: u32) -> bool;
    /// `fetch` of the token request (its init made by `initFor`, shared
    /// with `prefetchToken`), never throwing, always a `Response` (see
    /// `js/net.js`); `lines` holds the headers as name, value, ... joined
    /// by NULs.
    fn request(
        url: &str,
        credentials: Option<&str>,
        cache: Option<&str>,
        mode: Option<&str>,
        referrer_policy: Option<&str>,
        lines: &str,
        signal: &AbortSignal,
    ) -> js_sys::Promise;
}

/// The endpoint's answer as a typed struct, before the expiry checks.
struct TokenResponse {
    token: String,
    expires_at: String,
}

/// Aborts the request when dropped: a round that is given up (`destroy()`
/// drops its future) stops its fetch; after a finished fetch it does nothing.
struct AbortOnDrop(AbortController);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Fetches and reads one answer. Dropping the future aborts the request.
pub async fn fetch(opts: &Options) -> Answer {
    // An early answer (prefetchToken) whose token ran out while it waited
    // for the loader is not this request's answer: ask once more (the
    // early one was taken, so that request is one of its own). One await
    // in a loop: two would build the request's future twice (+0.4 KB).
    let mut again = true;
    loop {
        match fetch_answer(opts).await {
            Ok((_, true)) if again => again = false,
            Ok((answer, _)) => return answer,
            Err(e) => return Answer::Failed(e),
        }
    }
}

/// One answer, and whether it is an early one that expired while it
/// waited (less than a second left by the server's clock now).
async fn fetch_answer(opts: &Options) -> Result<(Answer, bool), LoaderError> {
    let ctrl = AbortController::new().map_err(|_| {
        LoaderError::new(
            ErrorCode::UnsupportedEnvironment,
            "chathub-loader: AbortController is not available",
        )
    })?;
    let _abort = AbortOnDrop(ctrl.clone());
    let url = &opts.token_url;
    let network = |what: &str| {
        LoaderError::new(
            ErrorCode::TokenNetwork,
            cat(&[
                "chathub-loader: ",
                what,
                " ",
                url,
                " failed (offline, DNS, or a CORS rule of the endpoint?)",
            ]),
        )
    };

    let f = &opts.fetch_init;
    // Names and values were checked (by `Headers`) when the options were
    // read: neither holds a NUL, which `Headers` refuses anywhere.
    let mut lines = String::new();
    for (name, value) in &f.headers {
        for part in [name, value] {
            if !lines.is_empty() {
                lines.push('\0');
            }
            lines.push_str(part);
        }
    }
    let promise = request(
        url,
        f.credentials.as_deref(),
        f.cache.as_deref(),
        f.mode.as_deref(),
        f.referrer_policy.as_deref(),
        &lines,
        &ctrl.signal(),
    );
    let resp: Response = JsFuture::from(promise)
        .await
        .map_err(|_| network("the request to"))?
        .unchecked_into();
    let status = resp.status();
    if status == 401 || status == 403 {
        return Err(LoaderError {
            status: Some(status),
            ..LoaderError::new(
                ErrorCode::TokenUnauthorized,
                cat(&["chathub-loader: the token endpoint ", url, " answered ", &num(status.into()), ": this visitor may not get a chat token (not signed in, or fetchInit.credentials not set?)"]),
            )
        });
    }
    if !resp.ok() {
        // 429 and 5xx may say when to come back (503 by the book; this
        // project's token server also on 502/504 while its upstream is
        // down). An HTTP date is measured against the answer's own `Date`
        // where the page can read it: the visitor's clock may be off.
        let header = |name: &str| resp.headers().get(name).ok().flatten();
        let retry_after_ms = (status == 429 || status >= 500)
            .then(|| header("retry-after"))
            .flatten()
            .and_then(|v| {
                schedule::retry_after_ms(&v, or_local(server_now(&resp, true)), js_sys::Date::parse)
            });
        return Err(LoaderError {
            status: Some(status),
            retry_after_ms,
            ..LoaderError::new(
                ErrorCode::TokenHttp,
                cat(&[
                    "chathub-loader: the token endpoint ",
                    url,
                    " answered HTTP ",
                    &num(status.into()),
                    "; check the backend's logs",
                ]),
            )
        });
    }
    let text = JsFuture::from(read_text(&resp, MAX_ANSWER_BYTES))
        .await
        .map_err(|_| network("reading the answer of"))?
        .as_string()
        .ok_or_else(|| malformed(url, "answered more than 64 KiB"))?;
    let parsed = parse_response(&text, url)?;
    // The server's clock, where the answer lets us read it (same origin,
    // or `Access-Control-Expose-Headers: Date`) and it is not an HTTP
    // cache's copy (whose `Date` is as old as the copy); NaN otherwise.
    let from_server = matches!(
        opts.fetch_init.cache.as_deref(),
        None | Some("no-store" | "reload" | "no-cache")
    );
    let server_now = server_now(&resp, from_server);
    let answer = read_claims(parsed, server_now, url)?;
    let stale = match &answer {
        Answer::Token { expires_at, .. } if taken_early(&resp, 0) => {
            expires_at - or_local(server_now) < 1000.0
        }
        _ => false,
    };
    Ok((answer, stale))
}

/// The server's clock where the answer told it, else the visitor's.
fn or_local(server_now: f64) -> f64 {
    if server_now.is_finite() {
        server_now
    } else {
        js_sys::Date::now()
    }
}

fn malformed(url: &str, what: &str) -> LoaderError {
    LoaderError::new(
        ErrorCode::TokenMalformed,
        cat(&[
            "chathub-loader: the token endpoint ",
            url,
            " ",
            what,
            "; it must answer {\"token\": \"<JWT>\", \"expiresAt\": \"<ISO-8601>\"}",
        ]),
    )
}

fn parse_response(text: &str, url: &str) -> Result<TokenResponse, LoaderError> {
    let json = JSON::parse(text)
        .map_err(|_| malformed(url, "did not answer JSON (an HTML error page?)"))?;
    if !json.is_object() {
        return Err(malformed(url, "answered JSON that is not an object"));
    }
    // Own keys only (a polluted `Object.prototype.token` is not an answer).
    let json: js_sys::Object = json.unchecked_into();
    let field = |k: &str| crate::options::own(&json, k).unwrap_or(JsValue::UNDEFINED);
    let token = field("token")
        .as_string()
        .filter(|t| !t.trim_ascii().is_empty())
        .ok_or_else(|| malformed(url, "answered without a non-empty string `token`"))?;
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed(url, "answered a token longer than 16 KiB"));
    }
    let expires_at = field("expiresAt")
        .as_string()
        .ok_or_else(|| malformed(url, "answered without a string `expiresAt`"))?;
    Ok(TokenResponse { token, expires_at })
}

/// The expiry claims as the machine needs them (it judges them against
/// the server's clock, `server_now_ms` from the `Date` header or NaN).
fn read_claims(resp: TokenResponse, server_now_ms: f64, url: &str) -> Result<Answer, LoaderError> {
    // ISO-8601 only: the browser's `Date.parse` also takes "3600" (the
    // year 3600) or "12/31/2099", which a backend sending a lifetime in
    // seconds would slip through.
    let expires_at_ms = if is_iso_date_time(resp.expires_at.as_bytes()) {
        js_sys::Date::parse(&resp.expires_at)
    } else {
        f64::NAN
    };
    if !expires_at_ms.is_finite() {
        return Err(malformed(
            url,
            &cat(&[
                "answered an `expiresAt` that is not a date: \"",
                // Quoted only when short: it is the server's text.
                if resp.expires_at.len() <= 40 {
                    resp.expires_at.as_str()
                } else {
                    "(long)"
                },
                "\"",
            ]),
        ));
    }
    let claims = jwt::payload_json(&resp.token)
        .and_then(|p| JSON::parse(&p).ok())
        .filter(JsValue::is_object);
    let claim = |name: &str| {
        claims
            .as_ref()
            .and_then(|c| crate::options::own(c.unchecked_ref(), name))
            .and_then(|v| v.as_f64())
    };
    Ok(Answer::Token {
        value: resp.token,
        expires_at: schedule::effective_expiry_ms(expires_at_ms, claim("exp")),
        iat: claim("iat").map(|s| s * 1000.0),
        server_now: Some(server_now_ms).filter(|t| t.is_finite()),
    })
}

/// `YYYY-MM-DDThh:mm...` (the rest is `Date.parse`'s to judge).
fn is_iso_date_time(s: &[u8]) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd";
    s.len() >= SHAPE.len()
        && SHAPE.iter().zip(s).all(|(&want, &got)| match want {
            b'd' => got.is_ascii_digit(),
            b'T' => matches!(got, b'T' | b't' | b' '),
            _ => got == want,
        })
}

#[cfg(test)]
mod tests {
    use super::is_iso_date_time;

    #[test]
    fn expires_at_must_be_an_iso_date_and_time() {
        for ok in [
            "2026-12-02T18:00:00Z",
            "2026-12-02T18:00:00.123+01:00",
            "2026-12-02 18:00Z",
        ] {
            assert!(is_iso_date_time(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "3600",
            "86400",
            "2030",
            "12/31/2099",
            "2026-12-02",
            "Tue, 01 Dec 2026 10:00:00 GMT",
            "",
            "1",
        ] {
            assert!(!is_iso_date_time(bad.as_bytes()), "{bad}");
        }
    }
}
