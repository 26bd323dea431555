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
//! [`server::serve`] runs it with the connection limits and the shutdown a
//! production service needs; [`layers`] documents the request path.
//!
//! The `dev` feature adds dev mode, the fake ChatHub API and the demo's
//! file server (`dev`, `fake_api`, `static_files`); production builds
//! leave it out.
#![deny(missing_docs)]

pub mod auth;
pub mod backoff;
pub mod cache;
pub mod cli;
pub mod config;
pub mod connection;
pub mod decision;
#[cfg(feature = "dev")]
pub mod dev;
pub mod error;
#[cfg(feature = "dev")]
pub mod fake_api;
pub mod issuer;
pub mod layers;
pub mod limits;
pub mod metrics;
pub mod routes;
pub mod schedule;
pub mod server;
pub mod shutdown;
#[cfg(feature = "dev")]
pub mod static_files;
pub mod upstream;

pub use cache::{TokenCache, TokenError};
pub use config::{Config, ConfigError, RenewalPolicy};
pub use issuer::Issuer;
