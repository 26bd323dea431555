//! Who may get a token: refused requests get 401 and cause no upstream call.

mod common;

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::HeaderName;
use chathub_token_server::auth::{Authorizer, BearerSecret, Principal, ProxyHeader, Unauthorized};
use common::*;
use futures::future::{BoxFuture, FutureExt};
use secrecy::SecretString;

const SECRET: &str = "shared-secret-for-tests-0123456789";

#[tokio::test]
async fn bearer_mode_refuses_missing_and_wrong_secrets_without_upstream_calls() {
    let (fake, api) = start_fake().await;
    let auth = Arc::new(BearerSecret::new(SecretString::from(SECRET.to_owned())));
    let service = start_service_with(config(&api), auth, &[]).await;
    let http = client();

    let resp = http.get(service.token_url()).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "UNAUTHORIZED");

    for wrong in ["nope", &SECRET[..SECRET.len() - 1], &format!("{SECRET}x")] {
        let resp = http
            .get(service.token_url())
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let resp = http
        .get(format!("{}?org=support", service.token_url()))
        .header("authorization", SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the secret without the Bearer scheme");
    assert_eq!(total_calls(&fake), 0, "a refused request reached ChatHub");

    let resp = http
        .get(service.token_url())
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(count(&fake, "get_token"), 1);
}

#[tokio::test]
async fn proxy_header_mode_needs_the_header_the_proxy_sets() {
    let (fake, api) = start_fake().await;
    let auth = Arc::new(ProxyHeader::new(HeaderName::from_static(
        "x-forwarded-user",
    )));
    let service = start_service_with(config(&api), auth, &[]).await;
    let http = client();

    assert_eq!(
        http.get(service.token_url()).send().await.unwrap().status(),
        401
    );
    let resp = http
        .get(service.token_url())
        .header("x-forwarded-user", "   ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a blank user");
    assert_eq!(total_calls(&fake), 0);

    let resp = http
        .get(service.token_url())
        .header("x-forwarded-user", "alice@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// A host's own session check, plugged in through the trait.
struct SessionCookie;

impl Authorizer for SessionCookie {
    fn authorize<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, Result<Principal, Unauthorized>> {
        async move {
            let cookie = req
                .headers
                .get("cookie")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if cookie.split("; ").any(|c| c == "session=valid") {
                Ok(Principal("session-user".into()))
            } else {
                Err(Unauthorized {
                    reason: "log in first",
                    challenge: None,
                })
            }
        }
        .boxed()
    }
}

#[tokio::test]
async fn a_host_can_plug_in_its_own_check() {
    let (fake, api) = start_fake().await;
    let service = start_service_with(config(&api), Arc::new(SessionCookie), &[]).await;
    let http = client();
    let resp = http
        .get(service.token_url())
        .header("cookie", "session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "log in first");
    assert_eq!(total_calls(&fake), 0);

    let resp = http
        .get(service.token_url())
        .header("cookie", "theme=dark; session=valid")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn unauthorised_requests_for_unknown_orgs_are_still_401() {
    let (fake, api) = start_fake().await;
    let auth = Arc::new(BearerSecret::new(SecretString::from(SECRET.to_owned())));
    let service = start_service_with(config(&api), auth, &[]).await;
    let (status, _) = get_token(&format!("{}?org=nope", service.token_url())).await;
    assert_eq!(
        status, 401,
        "the org map must not be probed without credentials"
    );
    assert_eq!(total_calls(&fake), 0);
}
