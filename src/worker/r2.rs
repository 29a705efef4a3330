//! R2 binding calls: the core planned them ([`R2Plan`]); this converts between JS objects and the
//! core's plain types and nothing else. Bodies stay streams: a GET hands R2's `ReadableStream` to
//! the client, a PUT or part upload feeds R2 a `FixedLengthStream` of the decoded length.

use std::rc::Rc;

use js_sys::{Array, Date, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::executor::{completion_blocked, copy_metadata, part_copy_length, Answer, R2Move};
use crate::gateway::{
    Conditions, ForwardBody, HttpMetadata, R2Call, R2Listing, R2Object, R2Outcome, R2Plan, R2Range,
    R2Records,
};

use super::body::{self, Slot};
use super::{js, stored_bytes_response, to_js_response};

/// `env[binding]`, or why there is none.
fn binding(env: &Env, name: &str) -> Result<JsValue, String> {
    match Reflect::get(env.as_ref(), &JsValue::from_str(name)) {
        Ok(b) if b.is_object() => Ok(b),
        _ => Err(format!("no R2 binding named {name} in this Worker")),
    }
}

/// A transfer's binding call: the outcome, and the object's body (a `get`'s) to keep open. A
/// `put` sends `source`, wrapped to its length.
pub(super) async fn transfer_call(
    env: &Env,
    r2: &R2Move,
    source: Option<web_sys::ReadableStream>,
) -> (Answer, Option<web_sys::ReadableStream>) {
    let run = async {
        let bucket = binding(env, &r2.binding).map_err(|e| JsValue::from_str(&e))?;
        let (body, upload) = match r2.body {
            Some((_, length)) => {
                let (body, upload) = copy_body(source, length).await?;
                (body, Some(upload))
            }
            None => (JsValue::from_str(""), None),
        };
        let size = r2.body.map_or(0, |(_, length)| length);
        let result = run(&r2.call, &bucket, body, size).await;
        drop(upload);
        result
    };
    match run.await {
        Ok((outcome, stream)) => (Answer::R2(outcome), stream),
        Err(e) => (Answer::Failed(js::describe(&e)), None),
    }
}

/// Runs the plan's binding call and renders the answer.
pub(super) async fn execute(
    mut plan: R2Plan,
    env: &Env,
    client_body: Option<web_sys::ReadableStream>,
) -> Result<web_sys::Response, JsValue> {
    let bucket = match binding(env, &plan.binding) {
        Ok(b) => b,
        Err(msg) => return to_js_response(plan.failed(&msg), None),
    };
    let slot: Slot = Rc::default();
    let kind = std::mem::replace(&mut plan.body, ForwardBody::Empty);
    let needs_body = matches!(plan.call, R2Call::Put { .. } | R2Call::UploadPart { .. });
    let upload = if needs_body {
        match body::prepare_upload(kind, client_body, plan.content_length, &slot).await {
            Ok(u) => Some(u),
            Err(e) => return to_js_response(e.r2_answer(&plan), None),
        }
    } else {
        None
    };
    let upload_body = upload
        .as_ref()
        .and_then(|u| u.body.clone())
        .unwrap_or_else(|| JsValue::from_str(""));
    let size = plan.content_length.unwrap_or(0);
    let result = run(&plan.call, &bucket, upload_body, size).await;
    drop(upload);
    if let Some(err) = slot.borrow_mut().take() {
        return to_js_response(plan.refused(&err), None);
    }
    match result {
        Ok((outcome, stream)) => {
            if let Err(e) = keep_records(&plan, &bucket, &outcome).await {
                return to_js_response(plan.failed(&js::describe(&e)), None);
            }
            stored_bytes_response(plan.respond(outcome), stream)
        }
        Err(e) => to_js_response(plan.failed(&js::describe(&e)), None),
    }
}

/// Writes or deletes the gateway's multipart records the core asked for. A record that cannot
/// be written fails the request; a cleanup that fails is only logged.
async fn keep_records(plan: &R2Plan, bucket: &JsValue, outcome: &R2Outcome) -> Result<(), JsValue> {
    match plan.records(outcome) {
        None => Ok(()),
        Some(R2Records::Put { key, custom }) => {
            let opts = object(&[("customMetadata", Some(custom_js(&custom)))]);
            invoke(bucket, "put", &[key.into(), JsValue::from_str(""), opts]).await?;
            Ok(())
        }
        Some(R2Records::Clean { keys, prefix }) => {
            if let Err(e) = clean(bucket, &keys, &prefix).await {
                log::warn!(
                    "request {}: cleaning multipart records under {prefix} failed: {}",
                    plan.request_id,
                    js::describe(&e)
                );
            }
            Ok(())
        }
    }
}

/// Deletes `keys` and everything under `prefix`, a page of 1000 at a time.
async fn clean(bucket: &JsValue, keys: &[String], prefix: &str) -> Result<(), JsValue> {
    let list: Array = keys.iter().map(JsValue::from).collect();
    invoke(bucket, "delete", &[list.into()]).await?;
    // At most 10,000 part records: 10 pages, and one to see that nothing is left.
    for _ in 0..=10 {
        let opts = object(&[("prefix", Some(prefix.into()))]);
        let page = listing_from(&invoke(bucket, "list", &[opts]).await?);
        if !page.objects.is_empty() {
            let list: Array = page.objects.iter().map(|o| JsValue::from(&o.key)).collect();
            invoke(bucket, "delete", &[list.into()]).await?;
        }
        // Deleted keys are gone from the next listing: start again until nothing is left.
        if !page.truncated || page.objects.is_empty() {
            return Ok(());
        }
    }
    Err(JsValue::from_str(
        "records were still listed after 11 rounds of deletes",
    ))
}

/// `list` of gateway records, with their `customMetadata`.
async fn list_records(
    bucket: &JsValue,
    prefix: &str,
    start_after: Option<&String>,
    limit: u32,
) -> Result<Outcome, JsValue> {
    let include: Array = std::iter::once(JsValue::from_str("customMetadata")).collect();
    let opts = object(&[
        ("prefix", Some(prefix.into())),
        ("limit", Some(limit.into())),
        ("startAfter", start_after.map(JsValue::from)),
        ("include", Some(include.into())),
    ]);
    let listing = invoke(bucket, "list", &[opts]).await?;
    Ok((R2Outcome::Listing(listing_from(&listing)), None))
}

type Outcome = (R2Outcome, Option<web_sys::ReadableStream>);

async fn run(
    call: &R2Call,
    bucket: &JsValue,
    upload: JsValue,
    size: u64,
) -> Result<Outcome, JsValue> {
    match call {
        R2Call::Get { .. }
        | R2Call::Head { .. }
        | R2Call::Put { .. }
        | R2Call::Delete { .. }
        | R2Call::List { .. } => object_call(call, bucket, upload).await,
        R2Call::CreateMultipart { .. }
        | R2Call::UploadPart { .. }
        | R2Call::CompleteMultipart { .. }
        | R2Call::AbortMultipart { .. } => multipart_call(call, bucket, upload, size).await,
        R2Call::Copy {
            source_key,
            key,
            replace,
            source_conditions,
        } => copy(bucket, source_key, key, replace.as_ref(), source_conditions).await,
        R2Call::ListParts {
            upload_record,
            parts_prefix,
            start_after,
            limit,
        } => {
            let upload = invoke(bucket, "head", &[upload_record.into()]).await?;
            if upload.is_null_or_undefined() {
                return Ok((R2Outcome::Missing, None));
            }
            list_records(bucket, parts_prefix, start_after.as_ref(), *limit).await
        }
        R2Call::ListUploads {
            prefix,
            start_after,
            limit,
        } => list_records(bucket, prefix, start_after.as_ref(), *limit).await,
        R2Call::UploadPartCopy {
            source_key,
            key,
            upload_id,
            part_number,
            range,
            source_conditions,
        } => {
            upload_part_copy(
                bucket,
                source_key,
                (key, upload_id, *part_number),
                *range,
                source_conditions,
            )
            .await
        }
    }
}

/// The calls on objects: get, head, put, delete, list.
async fn object_call(call: &R2Call, bucket: &JsValue, upload: JsValue) -> Result<Outcome, JsValue> {
    match call {
        R2Call::Get {
            key,
            range,
            conditions,
        } => {
            let opts = object(&[
                ("onlyIf", Some(only_if(conditions))),
                ("range", range.map(range_js)),
            ]);
            let obj = invoke(bucket, "get", &[key.into(), opts]).await?;
            Ok(object_outcome(&obj))
        }
        R2Call::Head { key, .. } => {
            let obj = invoke(bucket, "head", &[key.into()]).await?;
            Ok(object_outcome(&obj))
        }
        R2Call::Put {
            key,
            http,
            custom,
            md5,
            conditions,
        } => {
            let conditional = *conditions != Conditions::default();
            let opts = object(&[
                ("httpMetadata", Some(http_js(http))),
                ("customMetadata", Some(custom_js(custom))),
                ("md5", md5.as_ref().map(JsValue::from)),
                ("onlyIf", conditional.then(|| only_if(conditions))),
            ]);
            let obj = invoke(bucket, "put", &[key.into(), upload, opts]).await?;
            Ok(put_outcome(&obj))
        }
        R2Call::Delete { keys } => {
            let list: Array = keys.iter().map(JsValue::from).collect();
            invoke(bucket, "delete", &[list.into()]).await?;
            Ok((R2Outcome::Deleted, None))
        }
        R2Call::List {
            prefix,
            delimiter,
            cursor,
            start_after,
            limit,
            ..
        } => {
            let opts = object(&[
                ("prefix", Some(prefix.into())),
                ("limit", Some((*limit).into())),
                ("delimiter", delimiter.as_ref().map(JsValue::from)),
                ("cursor", cursor.as_ref().map(JsValue::from)),
                ("startAfter", start_after.as_ref().map(JsValue::from)),
            ]);
            let listing = invoke(bucket, "list", &[opts]).await?;
            Ok((R2Outcome::Listing(listing_from(&listing)), None))
        }
        _ => Err(JsValue::from_str("not a call on objects")),
    }
}

/// The calls of a multipart upload: create, upload a part, complete, abort.
async fn multipart_call(
    call: &R2Call,
    bucket: &JsValue,
    upload: JsValue,
    size: u64,
) -> Result<Outcome, JsValue> {
    match call {
        R2Call::CreateMultipart { key, http, custom } => {
            let opts = metadata(http, custom);
            let up = invoke(bucket, "createMultipartUpload", &[key.into(), opts]).await?;
            Ok((
                R2Outcome::Upload {
                    upload_id: string(&up, "uploadId"),
                },
                None,
            ))
        }
        R2Call::UploadPart {
            key,
            upload_id,
            part_number,
        } => {
            let up = resume(bucket, key, upload_id)?;
            let part = invoke(&up, "uploadPart", &[(*part_number).into(), upload]).await?;
            Ok((
                R2Outcome::Part {
                    etag: string(&part, "etag"),
                    size,
                },
                None,
            ))
        }
        R2Call::CompleteMultipart {
            key,
            upload_id,
            parts,
            conditions,
        } => {
            if *conditions != Conditions::default() {
                let existing = invoke(bucket, "head", &[key.into()]).await?;
                let existing = (!existing.is_null_or_undefined()).then(|| object_from(&existing));
                if let Some(outcome) = completion_blocked(conditions, existing.as_ref()) {
                    return Ok((outcome, None));
                }
            }
            let up = resume(bucket, key, upload_id)?;
            let list: Array = parts
                .iter()
                .map(|(n, etag)| {
                    object(&[
                        ("partNumber", Some((*n).into())),
                        ("etag", Some(etag.into())),
                    ])
                })
                .collect();
            let obj = invoke(&up, "complete", &[list.into()]).await?;
            Ok((R2Outcome::Completed(object_from(&obj)), None))
        }
        R2Call::AbortMultipart { key, upload_id } => {
            let up = resume(bucket, key, upload_id)?;
            invoke(&up, "abort", &[]).await?;
            Ok((R2Outcome::Aborted, None))
        }
        _ => Err(JsValue::from_str("not a multipart call")),
    }
}

/// UploadPartCopy within the binding: the source's (ranged) stream piped into `uploadPart` of
/// the resumed upload, wrapped to its exact length (R2 needs it), never buffered.
async fn upload_part_copy(
    bucket: &JsValue,
    source_key: &str,
    (key, upload_id, part_number): (&str, &str, u16),
    range: Option<(u64, u64)>,
    conditions: &Conditions,
) -> Result<Outcome, JsValue> {
    let bounded = range.map(|(offset, length)| R2Range::Bounded {
        offset,
        length: Some(length),
    });
    let opts = object(&[
        ("onlyIf", Some(only_if(conditions))),
        ("range", bounded.map(range_js)),
    ]);
    let src = invoke(bucket, "get", &[source_key.into(), opts]).await?;
    let Some((meta, stream)) = source_body(&src) else {
        return Ok(missing_or_failed(&src));
    };
    let Some(length) = part_copy_length(range, meta.size) else {
        let _ = stream.cancel();
        return Ok((R2Outcome::InvalidCopyRange { size: meta.size }, None));
    };
    let (body, upload) = copy_body(Some(stream), length).await?;
    let up = resume(bucket, key, upload_id)?;
    let part = invoke(&up, "uploadPart", &[part_number.into(), body]).await?;
    drop(upload);
    Ok((
        R2Outcome::Part {
            etag: string(&part, "etag"),
            size: length,
        },
        None,
    ))
}

/// A copy source's metadata and body; None when it is missing or came without a body.
fn source_body(src: &JsValue) -> Option<(R2Object, web_sys::ReadableStream)> {
    if src.is_null_or_undefined() {
        return None;
    }
    Some((object_from(src), body_of(src)?))
}

/// Why [`source_body`] found nothing: no source (`Missing`) or a failed condition.
fn missing_or_failed(src: &JsValue) -> Outcome {
    if src.is_null_or_undefined() {
        (R2Outcome::Missing, None)
    } else {
        (R2Outcome::PreconditionFailed, None)
    }
}

/// A source stream wrapped to `length` bytes for a binding write, and what keeps it going.
async fn copy_body(
    stream: Option<web_sys::ReadableStream>,
    length: u64,
) -> Result<(JsValue, body::Upload), JsValue> {
    let upload = match stream {
        Some(stream) => body::piped(stream, Some(length))
            .await
            .map_err(|e| JsValue::from_str(&e))?,
        None => body::Upload::none(),
    };
    let body = upload.body.clone().unwrap_or_else(|| JsValue::from_str(""));
    Ok((body, upload))
}

/// Server-side copy within the binding: the source's stream piped into the put, never buffered.
async fn copy(
    bucket: &JsValue,
    source_key: &str,
    key: &str,
    replace: Option<&(HttpMetadata, Vec<(String, String)>)>,
    conditions: &Conditions,
) -> Result<Outcome, JsValue> {
    let opts = object(&[("onlyIf", Some(only_if(conditions)))]);
    let src = invoke(bucket, "get", &[source_key.into(), opts]).await?;
    let Some((meta, stream)) = source_body(&src) else {
        return Ok(missing_or_failed(&src));
    };
    let (http, custom) = copy_metadata(replace, &meta);
    let (body, upload) = copy_body(Some(stream), meta.size).await?;
    let put_opts = metadata(&http, &custom);
    let obj = invoke(bucket, "put", &[key.into(), body, put_opts]).await?;
    drop(upload);
    Ok(put_outcome(&obj))
}

fn resume(bucket: &JsValue, key: &str, upload_id: &str) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(bucket, &"resumeMultipartUpload".into())?.dyn_into()?;
    f.call2(bucket, &key.into(), &upload_id.into())
}

/// `target[method](...args)`, awaited when it returns a promise.
async fn invoke(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &method.into())?.dyn_into()?;
    let list: Array = args.iter().collect();
    let out = Reflect::apply(&f, target, &list)?;
    match out.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await,
        Err(v) => Ok(v),
    }
}

/// A plain JS object of the fields that have a value.
fn object(fields: &[(&str, Option<JsValue>)]) -> JsValue {
    let o = Object::new();
    for (name, value) in fields {
        if let Some(v) = value {
            // Setting a field of a fresh plain object cannot fail.
            let _ = Reflect::set(&o, &JsValue::from_str(name), v);
        }
    }
    o.into()
}

/// `obj[name]`; `undefined` when it cannot be read.
fn field(obj: &JsValue, name: &str) -> JsValue {
    Reflect::get(obj, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

/// The options of a write: `{ httpMetadata, customMetadata }`.
fn metadata(http: &HttpMetadata, custom: &[(String, String)]) -> JsValue {
    object(&[
        ("httpMetadata", Some(http_js(http))),
        ("customMetadata", Some(custom_js(custom))),
    ])
}

fn object_outcome(obj: &JsValue) -> Outcome {
    if obj.is_null_or_undefined() {
        return (R2Outcome::Missing, None);
    }
    let stream = body_of(obj);
    (
        R2Outcome::Object {
            meta: object_from(obj),
            has_body: stream.is_some(),
        },
        stream,
    )
}

fn put_outcome(obj: &JsValue) -> Outcome {
    if obj.is_null_or_undefined() {
        (R2Outcome::PreconditionFailed, None)
    } else {
        (R2Outcome::Put(object_from(obj)), None)
    }
}

fn body_of(obj: &JsValue) -> Option<web_sys::ReadableStream> {
    field(obj, "body").dyn_into().ok()
}

fn string(obj: &JsValue, name: &str) -> String {
    field(obj, name).as_string().unwrap_or_default()
}

fn date_ms(v: &JsValue) -> Option<i64> {
    let d = v.dyn_ref::<Date>()?;
    let t = d.get_time();
    #[allow(clippy::cast_possible_truncation)] // ms since 1970 fit an i64
    t.is_finite().then_some(t as i64)
}

fn object_from(obj: &JsValue) -> R2Object {
    let size = field(obj, "size").as_f64().unwrap_or(0.0);
    R2Object {
        key: string(obj, "key"),
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // sizes are integers
        size: size.max(0.0) as u64,
        etag: string(obj, "etag"),
        http_etag: string(obj, "httpEtag"),
        uploaded_ms: date_ms(&field(obj, "uploaded")).unwrap_or(0),
        http: http_from(&field(obj, "httpMetadata")),
        custom: custom_from(&field(obj, "customMetadata")),
        range: None,
    }
}

fn http_from(h: &JsValue) -> HttpMetadata {
    if !h.is_object() {
        return HttpMetadata::default();
    }
    HttpMetadata {
        content_type: field(h, "contentType").as_string(),
        content_language: field(h, "contentLanguage").as_string(),
        content_disposition: field(h, "contentDisposition").as_string(),
        content_encoding: field(h, "contentEncoding").as_string(),
        cache_control: field(h, "cacheControl").as_string(),
        expires: date_ms(&field(h, "cacheExpiry")),
    }
}

fn custom_from(c: &JsValue) -> Vec<(String, String)> {
    let Some(obj) = c.dyn_ref::<Object>() else {
        return Vec::new();
    };
    Object::entries(obj)
        .iter()
        .filter_map(|e| {
            let pair: Array = e.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

fn listing_from(l: &JsValue) -> R2Listing {
    let array = |name| {
        field(l, name)
            .dyn_into::<Array>()
            .unwrap_or_else(|_| Array::new())
    };
    let truncated = field(l, "truncated").as_bool().unwrap_or(false);
    R2Listing {
        objects: array("objects").iter().map(|o| object_from(&o)).collect(),
        delimited_prefixes: array("delimitedPrefixes")
            .iter()
            .filter_map(|p| p.as_string())
            .collect(),
        truncated,
        cursor: field(l, "cursor").as_string().filter(|_| truncated),
    }
}

#[allow(clippy::cast_precision_loss)] // offsets past 2^53 fail at R2 as unsatisfiable anyway
fn range_js(r: R2Range) -> JsValue {
    let number = |n: u64| JsValue::from(n as f64);
    match r {
        R2Range::Bounded { offset, length } => object(&[
            ("offset", Some(number(offset))),
            ("length", length.map(number)),
        ]),
        R2Range::Suffix(n) => object(&[("suffix", Some(number(n)))]),
    }
}

#[allow(clippy::cast_precision_loss)] // millisecond timestamps fit a double exactly
fn date(ms: i64) -> JsValue {
    Date::new(&(ms as f64).into()).into()
}

fn etags(list: &[String]) -> JsValue {
    match list {
        [one] => one.into(),
        many => many.iter().map(JsValue::from).collect::<Array>().into(),
    }
}

fn only_if(c: &Conditions) -> JsValue {
    let any = |list: &[String]| (!list.is_empty()).then(|| etags(list));
    object(&[
        ("etagMatches", any(&c.if_match)),
        ("etagDoesNotMatch", any(&c.if_none_match)),
        ("uploadedAfter", c.if_modified_since.map(date)),
        ("uploadedBefore", c.if_unmodified_since.map(date)),
        ("secondsGranularity", Some(true.into())),
    ])
}

fn http_js(h: &HttpMetadata) -> JsValue {
    let text = |v: &Option<String>| v.as_deref().map(JsValue::from);
    object(&[
        ("contentType", text(&h.content_type)),
        ("contentLanguage", text(&h.content_language)),
        ("contentDisposition", text(&h.content_disposition)),
        ("contentEncoding", text(&h.content_encoding)),
        ("cacheControl", text(&h.cache_control)),
        ("cacheExpiry", h.expires.map(date)),
    ])
}

fn custom_js(c: &[(String, String)]) -> JsValue {
    let fields: Vec<(&str, Option<JsValue>)> = c
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.into())))
        .collect();
    object(&fields)
}
