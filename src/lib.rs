//! chathub-loader: puts the ChatHub operator chat widget on a page with a
//! fresh operator token and keeps it alive. See the README for the guide.
#![deny(missing_docs)]

mod error;
mod events;
mod jwt;
mod lifetime;
mod manager;
mod options;
mod registry;
mod schedule;
mod tag;
mod token;
mod typescript;
mod ui;
mod validate;

pub use error::{ErrorCode, LoaderError};
pub use events::{State, STATE_EVENT};
pub use manager::{WidgetTokenManager, WidgetTokenManagerOptions};
