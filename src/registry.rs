//! One live manager per org per page.

use alloc::rc::Rc;
use core::cell::RefCell;

use crate::error::{ErrorCode, LoaderError};
use crate::manager::Inner;
use crate::options::Options;
use crate::prelude::*;
use crate::single::single_thread_static;
use crate::text::cat;

single_thread_static! {
    // A page has a handful of orgs at most: a Vec beats a HashMap in bytes.
    static LIVE: RefCell<Vec<Rc<Inner>>> = RefCell::new(Vec::new());
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

/// Records `inner` as its org's live manager.
pub fn register(inner: &Rc<Inner>) {
    LIVE.with(|l| l.borrow_mut().push(inner.clone()));
}

/// Forgets `inner`.
pub fn unregister(inner: &Inner) {
    LIVE.with(|l| {
        l.borrow_mut()
            .retain(|cur| !core::ptr::eq(Rc::as_ptr(cur), inner))
    });
}
