//! The page signals a manager listens to: the page coming back (visible,
//! online, restored from the back/forward cache), and the widget reporting
//! `token expired`. They only feed the machine (`crate::core`), which
//! decides what each is worth.
//!
//! The widget reports an expired token through a window `error` event.
//! Only errors raised by a script on the widget's origin count (the host
//! app's own "Session token expired" must not remount the chat), and one
//! raised by another org's widget tag is that org's; an
//! `unhandledrejection` carries no URL, so it counts (the machine's
//! debounce and cool-down bound what it costs).

use alloc::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::Document;

use crate::core::Event;
use crate::driver::Inner;
use crate::listening::Listening;
use crate::prelude::*;

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// Adds the page listeners (see `js/dom.js`); returns their remover.
    #[wasm_bindgen(js_name = watchPage)]
    fn watch_page(
        doc: &Document,
        win: &web_sys::Window,
        check: &Closure<dyn Fn(bool)>,
        signal: &Closure<dyn Fn(String)>,
        widget_src: &str,
        tag_id: &str,
    ) -> js_sys::Function;
}

/// One manager's page listeners; removed when dropped.
pub type PageWatch = Listening<(Closure<dyn Fn(bool)>, Closure<dyn Fn(String)>)>;

/// Starts listening for `inner`.
pub fn watch(doc: &Document, inner: &Rc<Inner>) -> Option<PageWatch> {
    let window = web_sys::window()?;
    let weak = Rc::downgrade(inner);
    let check = Closure::<dyn Fn(bool)>::new(move |online: bool| {
        if let Some(inner) = weak.upgrade() {
            inner.feed(Event::PageBack { online });
        }
    });
    let weak = Rc::downgrade(inner);
    let signal = Closure::<dyn Fn(String)>::new(move |message: String| {
        // A byte window compare: no lowercase copy, no substring searcher.
        let expired = message
            .as_bytes()
            .windows(13)
            .any(|w| w.eq_ignore_ascii_case(b"token expired"));
        if let Some(inner) = weak.upgrade().filter(|_| expired) {
            inner.feed(Event::WidgetExpired);
        }
    });
    let remove = watch_page(
        doc,
        &window,
        &check,
        &signal,
        &inner.opts.widget_src,
        &inner.opts.tag_id(),
    );
    Some(PageWatch::new(remove, (check, signal)))
}
