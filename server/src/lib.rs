//! chathub-token-server: the backend that hands a page a short-lived ChatHub
//! operator token (`GET /api/chathub/token[?org=KEY]`) while the company
//! credentials stay on the server.
//!
//! Use it as a binary (see the README) or as a library: build a [`Config`],
//! an [`Issuer`], a [`TokenCache`] and a [`routes::TokenService`] with your
//! own [`auth::Authorizer`], then merge [`routes::router`] into your app.
//!
//! The cache keeps serving a token it holds while ChatHub fails, renews
//! ahead of time in the background, and backs off from a failing ChatHub
//! (see [`cache`] and [`decision`]); `/metrics` shows it (see [`metrics`]).
#![deny(missing_docs)]

pub mod auth;
pub mod backoff;
pub mod cache;
pub mod config;
pub mod decision;
pub mod dev;
pub mod error;
pub mod fake_api;
pub mod issuer;
pub mod limits;
pub mod metrics;
pub mod routes;
pub mod schedule;
pub mod shutdown;
pub mod static_files;
pub mod upstream;

pub use cache::{TokenCache, TokenError};
pub use config::{Config, ConfigError, RenewalPolicy};
pub use issuer::Issuer;
