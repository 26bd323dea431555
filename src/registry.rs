//! One live manager per org per page.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{ErrorCode, LoaderError};
use crate::manager::Inner;
use crate::options::Options;

thread_local! {
    static LIVE: RefCell<HashMap<String, Rc<Inner>>> = RefCell::new(HashMap::new());
}

fn key(opts: &Options) -> String {
    opts.tag_id()
}

/// The live manager for these options' org: the same one when the options
/// match, `CONFLICTING_INSTANCE` when they differ, `None` when there is none.
pub fn existing(opts: &Options) -> Result<Option<Rc<Inner>>, LoaderError> {
    let Some(live) = LIVE.with(|l| l.borrow().get(&key(opts)).cloned()) else {
        return Ok(None);
    };
    if live.opts == *opts {
        return Ok(Some(live));
    }
    let org = opts
        .org
        .as_deref()
        .map(|o| format!("org {o:?}"))
        .unwrap_or_else(|| "the default org".into());
    Err(LoaderError::new(
        ErrorCode::ConflictingInstance,
        format!(
            "chathub-loader: a WidgetTokenManager for {org} is already live with different options ({}); reuse it, or destroy() it before creating another",
            live.opts.differing_keys(opts).join(", ")
        ),
    ))
}

/// Records `inner` as its org's live manager.
pub fn register(inner: &Rc<Inner>) {
    LIVE.with(|l| l.borrow_mut().insert(key(&inner.opts), inner.clone()));
}

/// Forgets `inner` (only if it is still the registered one).
pub fn unregister(inner: &Inner) {
    LIVE.with(|l| {
        let mut live = l.borrow_mut();
        let k = key(&inner.opts);
        if live
            .get(&k)
            .is_some_and(|cur| std::ptr::eq(Rc::as_ptr(cur), inner))
        {
            live.remove(&k);
        }
    });
}
