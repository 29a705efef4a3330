//! Raw bindings to the Workers runtime that neither `web-sys` nor `worker` expose the way we need.

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// `FixedLengthStream`: an identity `TransformStream` whose readable side has a known length,
    /// so `fetch()` sends `Content-Length` instead of chunked encoding (S3 refuses chunked PUTs).
    #[wasm_bindgen(extends = web_sys::TransformStream)]
    pub type FixedLengthStream;

    /// `new FixedLengthStream(length)`.
    #[wasm_bindgen(constructor, catch)]
    pub fn new(length: f64) -> Result<FixedLengthStream, JsValue>;

    /// The global `fetch`.
    #[wasm_bindgen(js_name = fetch)]
    pub fn global_fetch(request: &web_sys::Request) -> Promise;

    /// `crypto.getRandomValues(view)`: fills the bytes from the runtime's CSPRNG.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// Largest integer a JS number holds exactly; lengths beyond it cannot be expressed to the
/// runtime.
pub(super) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `body.pipeThrough(transform).pipeTo(new FixedLengthStream(length).writable)`; returns the
/// readable side to send, and the pipe's promise (settles once the body went in whole, or
/// failed). `on_fail` is called with the reason if the pipe fails (the client's body broke off,
/// or the transform refused it); the failure also surfaces as the failure of the fetch that
/// reads the readable side.
pub(super) fn fixed_length(
    body: &web_sys::ReadableStream,
    length: u64,
    transform: &web_sys::TransformStream,
    on_fail: &Function,
) -> Result<(web_sys::ReadableStream, Promise), JsValue> {
    if length > MAX_SAFE_INTEGER {
        return Err(JsValue::from_str(
            "body length exceeds what the runtime can express",
        ));
    }
    #[allow(clippy::cast_precision_loss)] // checked against MAX_SAFE_INTEGER above
    let fixed = FixedLengthStream::new(length as f64)?;
    let source = pipe_through(body, transform)?;
    let done = source.pipe_to(&fixed.writable());
    let catch: Function = Reflect::get(&done, &"catch".into())?.dyn_into()?;
    catch.call1(&done, on_fail)?;
    Ok((fixed.readable(), done))
}

/// `stream.pipeThrough(transform)`.
fn pipe_through(
    stream: &web_sys::ReadableStream,
    transform: &web_sys::TransformStream,
) -> Result<web_sys::ReadableStream, JsValue> {
    let pair = Object::new();
    Reflect::set(&pair, &"readable".into(), &transform.readable())?;
    Reflect::set(&pair, &"writable".into(), &transform.writable())?;
    let f: Function = Reflect::get(stream, &"pipeThrough".into())?.dyn_into()?;
    f.call1(stream, &pair)?.dyn_into()
}

/// Copies a JS chunk (`Uint8Array`, or anything array-buffer-like) into WASM memory.
pub(super) fn chunk_bytes(chunk: &JsValue) -> Vec<u8> {
    Uint8Array::new(chunk).to_vec()
}

/// Copies bytes out of WASM memory into a fresh `Uint8Array`.
pub(super) fn to_uint8(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}

/// The JS request of a backend call (method, URL, headers), with `body`, aborted by `signal`.
/// Redirects are not followed; the framing headers are the runtime's to set.
pub(super) fn request(
    (method, url, fields): (&http::Method, &str, &http::HeaderMap),
    body: Option<&JsValue>,
    signal: &web_sys::AbortSignal,
) -> Result<web_sys::Request, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in fields {
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            continue;
        }
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    let init = web_sys::RequestInit::new();
    init.set_method(method.as_str());
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if let Some(b) = body {
        init.set_body(b);
    }
    init.set_signal(Some(signal));
    web_sys::Request::new_with_str_and_init(url, &init)
}

/// A JS value as text, for logs.
pub(super) fn describe(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    v.as_string().unwrap_or_else(|| format!("{v:?}"))
}

/// The Worker's random source for the core (access key ids, token nonces). `getRandomValues`
/// takes at most 65536 bytes a call; a failure of the runtime's generator is not answered
/// around: the panic hook turns it into a 500.
pub(super) fn random_bytes(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(65536) {
        if let Err(e) = get_random_values(chunk) {
            panic!("crypto.getRandomValues failed: {}", describe(&e));
        }
    }
}
