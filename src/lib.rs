//! chathub-loader: puts the ChatHub operator chat widget on a page with a
//! fresh operator token and keeps it alive. See the README for the guide.
#![deny(missing_docs)]

mod error;
mod events;
mod handle;
mod jwt;
mod lifetime;
mod listening;
mod manager;
mod options;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests;
mod registry;
mod schedule;
mod signals;
mod tag;
mod text;
mod timing;
mod token;
mod trigger;
mod typescript;
mod ui;
mod validate;

pub use error::{ErrorCode, LoaderError};
pub use events::{State, STATE_EVENT};
pub use handle::{WidgetTokenManager, WidgetTokenManagerOptions};

/// A small free-list allocator instead of dlmalloc: about 2 KB less
/// (brotli) in the shipped `.wasm`. The loader runs on the page's main
/// thread only (no wasm threads), which `AssumeSingleThreaded` requires.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: this crate is built without atomics; wasm32 code runs on one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
