//! The page's managers: one live manager per org, and what each org's
//! failures taught (its retry memory), which outlives the managers: a
//! component that mounts and unmounts during an outage gets a new manager
//! each time, and must not get a new retry budget with it.

use alloc::rc::Rc;
use core::cell::RefCell;

use crate::core::Memory;
use crate::driver::Inner;
use crate::error::{ErrorCode, LoaderError};
use crate::options::Options;
use crate::prelude::*;
use crate::single::single_thread_static;
use crate::text::cat;

single_thread_static! {
    // A page has a handful of orgs at most: a Vec beats a HashMap in bytes.
    static LIVE: RefCell<Vec<Rc<Inner>>> = RefCell::new(Vec::new());
}
single_thread_static! {
    /// Retry memory by tag id, for orgs whose last manager is gone.
    static MEMORY: RefCell<Vec<(String, Memory)>> = RefCell::new(Vec::new());
}

/// The live manager for these options' org: the same one when the options
/// match, `CONFLICTING_INSTANCE` when they differ, `None` when there is none.
pub fn existing(opts: &Options) -> Result<Option<Rc<Inner>>, LoaderError> {
    let id = opts.tag_id();
    let found = LIVE.with(|l| l.borrow().iter().find(|i| i.opts.tag_id() == id).cloned());
    let Some(live) = found else {
        return Ok(None);
    };
    if live.opts == *opts {
        return Ok(Some(live));
    }
    let org = opts
        .org
        .as_deref()
        .map(|o| cat(&["org \"", o, "\""]))
        .unwrap_or_else(|| "the default org".into());
    Err(LoaderError::new(
        ErrorCode::ConflictingInstance,
        cat(&[
            "chathub-loader: a WidgetTokenManager for ",
            &org,
            " is already live with different options (",
            &crate::options::list(&live.opts.differing_keys(opts)),
            "); reuse it, or destroy() it before creating another",
        ]),
    ))
}

/// A new live manager for `opts`, with its org's retry memory.
pub fn create(opts: Options) -> Rc<Inner> {
    let id = opts.tag_id();
    let memory = MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        let at = m.iter().position(|(tag, _)| *tag == id);
        at.map(|i| m.swap_remove(i).1).unwrap_or_default()
    });
    let inner = Inner::new(opts, memory);
    LIVE.with(|l| l.borrow_mut().push(inner.clone()));
    inner
}

/// Forgets `inner` as its org's live manager.
pub fn unregister(inner: &Inner) {
    LIVE.with(|l| {
        l.borrow_mut()
            .retain(|cur| !core::ptr::eq(Rc::as_ptr(cur), inner))
    });
}

/// Keeps an org's retry memory for its next manager (a clean slate is
/// not kept).
pub fn remember(tag_id: &str, memory: Memory) {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        m.retain(|(tag, _)| tag != tag_id);
        if memory != Memory::default() {
            m.push((tag_id.into(), memory));
        }
    });
}

/// No manager is live on the page.
pub fn is_empty() -> bool {
    LIVE.with(|l| l.borrow().is_empty())
}
