//! The upstream flow for one organisation: find it, choose an operator,
//! get an operator token with `expiresAt = now + ttl`, validate it once.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use secrecy::{ExposeSecret, SecretString};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::{Config, ConfigError, OrgConfig, OrgSelector};
use crate::metrics::Metrics;
use crate::upstream::{id_text, jwt_expiry, ChatHubClient, Endpoint, JwtExpiry, UpstreamError};

/// ChatHub's operator status for an active operator.
pub const OPERATOR_ACTIVE: i64 = 0;

/// A validated operator token, ready to serve.
#[derive(Clone)]
pub struct IssuedToken {
    /// The operator JWT.
    pub token: SecretString,
    /// When it stops working (the earlier of what we asked and its `exp`).
    pub expires_at: OffsetDateTime,
    /// When we obtained it.
    pub issued_at: OffsetDateTime,
    /// `{"token","expiresAt"}` rendered once: a cached token is served
    /// many times, and each answer is then a reference-count bump.
    body: Bytes,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The rendered body holds the credential: never print it.
        f.debug_struct("IssuedToken")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

impl IssuedToken {
    /// A token with its answer body rendered.
    pub fn new(token: SecretString, expires_at: OffsetDateTime, issued_at: OffsetDateTime) -> Self {
        let body = serde_json::json!({
            "token": token.expose_secret(),
            "expiresAt": expires_at.format(&Rfc3339).unwrap_or_default(),
        });
        IssuedToken {
            body: Bytes::from(body.to_string()),
            token,
            expires_at,
            issued_at,
        }
    }

    /// The JSON the token endpoint answers with.
    pub fn response_body(&self) -> Bytes {
        self.body.clone()
    }

    /// Its whole lifetime.
    pub fn lifetime(&self) -> Duration {
        (self.expires_at - self.issued_at)
            .try_into()
            .unwrap_or(Duration::ZERO)
    }
}

/// Runs the flow against one ChatHub account.
#[derive(Debug)]
pub struct Issuer {
    client: ChatHubClient,
    config: Arc<Config>,
    metrics: Metrics,
}

impl Issuer {
    /// An issuer for `config`, with its own [`Metrics`].
    pub fn new(config: Arc<Config>) -> Result<Self, ConfigError> {
        config.validate()?;
        let metrics = Metrics::new();
        Ok(Issuer {
            client: ChatHubClient::new(&config, metrics.clone())?,
            config,
            metrics,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The settings in use, shared.
    pub fn shared_config(&self) -> Arc<Config> {
        self.config.clone()
    }

    /// Closes the company login's backoff window.
    pub fn reset_backoff(&self) {
        self.client.reset_backoff();
    }

    /// The metrics its upstream calls are counted in.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Issues a new, validated operator token for the org with public `key`.
    pub async fn issue(&self, key: &str) -> Result<IssuedToken, UpstreamError> {
        let org_cfg: &OrgConfig = self
            .config
            .org(key)
            .ok_or_else(|| UpstreamError::OrgNotFound(key.to_owned()))?;
        let orgs = self.client.organizations().await?;
        let org = orgs
            .iter()
            .find(|o| match &org_cfg.selector {
                OrgSelector::Id(id) => id_text(&o.id) == *id,
                OrgSelector::Name(name) => o.name == *name,
            })
            .ok_or_else(|| UpstreamError::OrgNotFound(org_cfg.selector.to_string()))?;

        let operators = self.client.operators(&org.id).await?;
        let operator = match &org_cfg.operator_id {
            Some(want) => operators
                .iter()
                .find(|op| id_text(&op.id) == *want && op.status == OPERATOR_ACTIVE)
                .ok_or_else(|| UpstreamError::OperatorUnavailable(want.clone()))?,
            None => operators
                .iter()
                .find(|op| op.status == OPERATOR_ACTIVE)
                .ok_or_else(|| UpstreamError::NoActiveOperator(org_cfg.selector.to_string()))?,
        };

        let issued_at = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        let asked = issued_at + self.config.token_ttl;
        let token = self.client.operator_token(&operator.id, asked).await?;
        // The JWT's own `exp` when earlier than asked, whatever its `alg`
        // (read from the payload; the signature is ChatHub's to check).
        let expires_at = match jwt_expiry(token.expose_secret()) {
            JwtExpiry::At(exp) => exp.min(asked),
            JwtExpiry::Missing | JwtExpiry::Beyond => asked,
            JwtExpiry::Unreadable => {
                // An expiry we cannot read could be past: never served.
                tracing::warn!(
                    org = key,
                    "ChatHub's operator token has no readable exp claim; refused"
                );
                return Err(UpstreamError::Malformed(Endpoint::OperatorToken));
            }
        };
        if expires_at <= OffsetDateTime::now_utc() {
            // A token that is already dead would only be renewed at once, forever.
            return Err(UpstreamError::Malformed(Endpoint::OperatorToken));
        }
        if !self.client.validate_token(&token).await? {
            return Err(UpstreamError::TokenRejected);
        }
        tracing::info!(
            org = key,
            operator = %id_text(&operator.id),
            expires_at = %expires_at,
            "issued operator token"
        );
        Ok(IssuedToken::new(token, expires_at, issued_at))
    }
}
