//! The library's core is async where it waits for the GPU (adapter and device requests, error
//! scopes, read-backs, the training loop), so that a browser's event loop keeps running while
//! it trains. The blocking API every native caller uses is a thin wrapper over it: `block`.
//!
//! - Natively, `block` runs the future to its end on the calling thread (pollster): the same
//!   code, the same numbers, as the async form.
//! - In a browser (wasm32), nothing may block: a wait there spins forever and freezes the tab.
//!   `block` polls the future once; when it is done at once (the CPU path, whose futures never
//!   wait) that is the answer, and when it would have to wait it is an `Error::Gpu` naming the
//!   async method to call instead.

use std::future::Future;

#[cfg(target_arch = "wasm32")]
use crate::error::Error;
use crate::error::Result;

/// Runs `f` to its end (natively), or returns its value when it needs no wait (in a
/// browser; else an error saying that `what` must be awaited: `async_name` is the method to
/// call instead).
pub(crate) fn block<T>(async_name: &str, f: impl Future<Output = Result<T>>) -> Result<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = async_name;
        pollster::block_on(f)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => Err(Error::Gpu(format!(
                "this call waits for the GPU, which in a browser would freeze the page: await `{async_name}` instead"
            ))),
        }
    }
}

/// A boxed future of a fallible result, borrowing for `'a`: what the async forms of the
/// `Backend` trait return (a trait object cannot have `async fn`s).
pub type Pending<'a, T> = std::pin::Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

/// Lets the browser's event loop run (a zero-delay timeout) before going on; natively, nothing.
/// The async training loop calls it between epochs, so a page stays responsive even on a path
/// whose steps never wait.
pub async fn yield_now() {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let global = js_sys::global();
            let set_timeout = js_sys::Reflect::get(&global, &"setTimeout".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            match set_timeout {
                Some(f) => {
                    let _ = f.call2(&global, &resolve, &0.into());
                }
                None => {
                    let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
                }
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}
