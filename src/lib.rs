//! chathub-loader: puts the ChatHub operator chat widget on a page with a
//! fresh operator token and keeps it alive. See the README for the guide.
#![deny(missing_docs)]
// The shipped build links no `std`: its panic machinery (the hook, the
// payloads, message formatting through `core::fmt::write`, the
// thread-local access errors) is 1.6 KB brotli of the `.wasm` that a
// loader never needs (docs/performance.md, "Size"). Only `make pkg` enables `ship`; every other build (host
// tests, the browser suite under `wasm-bindgen-test`) keeps `std`. The code
// uses `core`/`alloc` paths, the same items in both.
#![cfg_attr(all(target_arch = "wasm32", feature = "ship"), no_std)]

extern crate alloc;

pub mod core;
mod driver;
mod error;
mod events;
mod handle;
mod jwt;
mod lifetime;
mod listening;
mod options;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests;
mod registry;
mod signals;
mod single;
mod tag;
mod text;
mod timer;
mod token;
mod trigger;
mod typescript;
mod ui;
mod validate;

/// `alloc`'s everyday types, which `std`'s prelude would have brought.
mod prelude {
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
}

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

/// The shipped build's panic handler: a trap, with no message. A panic in
/// the loader is a bug that no page can act on; the browser reports
/// `RuntimeError: unreachable` where it happened. (In the test builds
/// `std`'s handler prints the message instead.)
#[cfg(all(target_arch = "wasm32", feature = "ship"))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}
