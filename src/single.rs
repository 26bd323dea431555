//! Statics for values that are not `Sync` (`RefCell`, `Cell`), in place of
//! `thread_local!`, which needs `std`: on wasm32 a plain `static` in a
//! [`SingleThread`]; on the host (unit tests, run on several threads) still
//! `thread_local!`. Both are read with `.with(|value| ...)`.

/// A value in a `static` on wasm32, where the loader runs on one thread.
#[cfg(target_arch = "wasm32")]
pub struct SingleThread<T>(T);

#[cfg(target_arch = "wasm32")]
impl<T> SingleThread<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        SingleThread(value)
    }

    /// Calls `f` with the value (the shape of `LocalKey::with`).
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }
}

// SAFETY: this crate's wasm32 builds have no `atomics` target feature (no
// wasm threads): all its code runs on the page's one thread, so a value
// here is never reached from two threads.
#[cfg(target_arch = "wasm32")]
unsafe impl<T> Sync for SingleThread<T> {}

// A threaded wasm build would make the `Sync` above unsound.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
compile_error!("chathub-loader assumes wasm32 without threads (no `atomics` target feature)");

/// `static NAME: T = init;`, read with `NAME.with(|v| ...)`; `init` must
/// be a constant expression.
macro_rules! single_thread_static {
    ($(#[$m:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(target_arch = "wasm32")]
        $(#[$m])*
        static $name: $crate::single::SingleThread<$t> = $crate::single::SingleThread::new($init);
        #[cfg(not(target_arch = "wasm32"))]
        std::thread_local! {
            $(#[$m])*
            static $name: $t = const { $init };
        }
    };
}
pub(crate) use single_thread_static;
