//! The fake ChatHub follows the API table: JWTs with `exp`, the 24 h cap,
//! validate-token, operator statuses.

mod common;

use common::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

async fn company_token(api: &str) -> String {
    let resp = client()
        .post(format!("{api}/api/company/get-token"))
        .json(&json!({ "login": "dev-company", "password": "dev-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Value>()
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

async fn operator_token(api: &str, company: &str, id: i64, ahead: Duration) -> (u16, Value) {
    let expires = (OffsetDateTime::now_utc() + ahead)
        .format(&Rfc3339)
        .unwrap();
    let resp = client()
        .post(format!("{api}/api/operator/get-token"))
        .bearer_auth(company)
        .json(&json!({ "id": id, "expiresAt": expires }))
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn validate(api: &str, company: &str, token: &str) -> Value {
    client()
        .post(format!("{api}/api/operator/validate-token"))
        .bearer_auth(company)
        .json(&Value::String(token.into()))
        .send_json()
        .await
}

#[tokio::test]
async fn operator_tokens_are_capped_at_24_hours() {
    let (_fake, api) = start_fake().await;
    let company = company_token(&api).await;
    assert_eq!(
        operator_token(&api, &company, 102, Duration::hours(25))
            .await
            .0,
        400
    );
    assert_eq!(
        operator_token(&api, &company, 102, Duration::seconds(-5))
            .await
            .0,
        400
    );
    let (status, token) = operator_token(&api, &company, 102, Duration::hours(24)).await;
    assert_eq!(status, 200);
    assert_eq!(
        validate(&api, &company, token.as_str().unwrap()).await,
        true
    );
}

#[tokio::test]
async fn only_active_operators_get_tokens() {
    let (_fake, api) = start_fake().await;
    let company = company_token(&api).await;
    assert_eq!(
        operator_token(&api, &company, 101, Duration::hours(1))
            .await
            .0,
        409
    ); // inactive
    assert_eq!(
        operator_token(&api, &company, 103, Duration::hours(1))
            .await
            .0,
        409
    ); // deleted
    assert_eq!(
        operator_token(&api, &company, 999, Duration::hours(1))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn validate_token_refuses_expired_and_foreign_tokens() {
    let (fake, api) = start_fake().await;
    let company = company_token(&api).await;
    fake.set_token_lifetime(Some(std::time::Duration::from_secs(2)));
    let (_, token) = operator_token(&api, &company, 102, Duration::hours(1)).await;
    let token = token.as_str().unwrap().to_owned();
    assert_eq!(validate(&api, &company, &token).await, true);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(validate(&api, &company, &token).await, false);
    assert_eq!(session(&api, &token).await["error"], "token expired");

    // Another fake signs with another key.
    let (_other, other_api) = start_fake().await;
    let other_company = company_token(&other_api).await;
    let (_, foreign) = operator_token(&other_api, &other_company, 102, Duration::hours(1)).await;
    assert_eq!(
        validate(&api, &company, foreign.as_str().unwrap()).await,
        false
    );
    // A company token is not an operator token.
    assert_eq!(validate(&api, &company, &company).await, false);
}

#[tokio::test]
async fn calls_without_a_company_token_are_401() {
    let (_fake, api) = start_fake().await;
    let resp = client()
        .get(format!("{api}/api/company/organization"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client()
        .post(format!("{api}/api/company/get-token"))
        .json(&json!({ "login": "dev-company", "password": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn operators_list_carries_statuses_and_synchronize_adds_active_ones() {
    let (_fake, api) = start_fake().await;
    let company = company_token(&api).await;
    let list: Value = client()
        .get(format!("{api}/api/operator?organizationId=1"))
        .bearer_auth(&company)
        .send_json()
        .await;
    let statuses: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [1, 0, 2, 0]);
    assert_eq!(list[0]["organization"]["name"], "Sales");

    let created: Value = client()
        .post(format!("{api}/api/operator/synchronize"))
        .bearer_auth(&company)
        .json(&json!([{ "organizationId": 2, "name": "New Person" }]))
        .send_json()
        .await;
    assert_eq!(created[0]["status"], 0);
    assert_eq!(created[0]["organization"]["id"], 2);
}
