//! A manager's lifetime as a cancellation signal: `destroy()` cancels it and
//! every future guarded by it finishes at its next poll with `DESTROYED`,
//! dropping (and so clearing) the timers and requests it was waiting on.

use crate::prelude::*;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::error::LoaderError;

/// Shared between the manager and the futures it started.
#[derive(Default)]
pub struct Lifetime {
    cancelled: Cell<bool>,
    wakers: RefCell<Vec<Waker>>,
}

impl Lifetime {
    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// Ends the lifetime and wakes every guarded future.
    pub fn cancel(&self) {
        self.cancelled.set(true);
        let wakers = core::mem::take(&mut *self.wakers.borrow_mut());
        for w in wakers {
            w.wake();
        }
    }
}

/// Runs `fut` until it finishes or `life` is cancelled.
pub async fn guard<T, F>(life: Rc<Lifetime>, fut: F) -> Result<T, LoaderError>
where
    F: Future<Output = Result<T, LoaderError>>,
{
    Guarded {
        life,
        fut: Box::pin(fut),
        registered: None,
    }
    .await
}

struct Guarded<F> {
    life: Rc<Lifetime>,
    fut: Pin<Box<F>>,
    registered: Option<Waker>,
}

impl<F> Drop for Guarded<F> {
    // A finished task's waker must not stay in the lifetime: a manager that
    // refreshes a thousand times would otherwise keep a thousand tasks.
    fn drop(&mut self) {
        if let Some(mine) = self.registered.take() {
            self.life
                .wakers
                .borrow_mut()
                .retain(|w| !w.will_wake(&mine));
        }
    }
}

impl<T, F: Future<Output = Result<T, LoaderError>>> Future for Guarded<F> {
    type Output = Result<T, LoaderError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.life.is_cancelled() {
            return Poll::Ready(Err(LoaderError::destroyed()));
        }
        if let Poll::Ready(out) = self.fut.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        // Page code the future ran (a state listener, a focusout) may have
        // cancelled the lifetime during that poll, after `cancel()` woke
        // the wakers registered so far: ours would never be woken.
        if self.life.is_cancelled() {
            return Poll::Ready(Err(LoaderError::destroyed()));
        }
        let fresh = self
            .registered
            .as_ref()
            .is_none_or(|w| !w.will_wake(cx.waker()));
        if fresh {
            let old = self.registered.replace(cx.waker().clone());
            let mut wakers = self.life.wakers.borrow_mut();
            if let Some(old) = old {
                wakers.retain(|w| !w.will_wake(&old));
            }
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
