//! chathub-token-server: the backend that hands a page a short-lived ChatHub
//! operator token (`GET /api/chathub/token[?org=KEY]`) while the company
//! credentials stay on the server.
//!
//! Use it as a binary (see the README) or as a library: build a [`Config`],
//! an [`Issuer`], a [`TokenCache`] and a [`routes::TokenService`] with your
//! own [`auth::Authorizer`], then merge [`routes::router`] into your app.
#![deny(missing_docs)]

pub mod auth;
pub mod cache;
pub mod config;
pub mod dev;
pub mod error;
pub mod fake_api;
pub mod issuer;
pub mod routes;
pub mod shutdown;
pub mod static_files;
pub mod upstream;

pub use cache::TokenCache;
pub use config::{Config, ConfigError};
pub use issuer::Issuer;
