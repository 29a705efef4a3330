//! What a streamed copy answers its client: the destination's result in S3's terms, or the
//! failure that stopped it.

use super::*;

impl StreamedCopy {
    /// The success answer.
    pub(super) fn done_ok(&mut self, doc: String, version: Option<String>) -> CopyStep {
        let mut resp = respond(
            StatusCode::OK,
            doc.into(),
            Some("application/xml"),
            &self.request_id,
        );
        if let Some(v) = version.and_then(|v| HeaderValue::from_str(&v).ok()) {
            resp.headers_mut().insert("x-amz-version-id", v);
        }
        if let Some(cors) = &self.cors {
            cors.apply(resp.headers_mut());
        }
        self.finish(resp)
    }

    /// A destination backend's error answer, told in our words.
    pub(super) fn told(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
    ) -> CopyStep {
        let resp = self.told_response(status, headers, body);
        self.finish(resp)
    }

    pub(super) fn told_response(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response<Bytes> {
        let fwd = self.forward(
            Method::PUT,
            String::new(),
            HeaderMap::new(),
            ForwardBody::Empty,
        );
        // A 200 carrying an <Error> document (CompleteMultipartUpload) is a failure too.
        let status = if status.is_success() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            status
        };
        fwd.buffered_response(status, headers, body, Timing::default())
    }

    pub(super) fn failure_response(&self, event: CopyEvent, what: &str) -> Response<Bytes> {
        let reason = match event {
            CopyEvent::Failed(reason) => reason,
            other => format!("unexpected {other:?}"),
        };
        log::warn!(
            "request {}: {what} failed: {}",
            self.request_id,
            crate::auth::redact(&reason)
        );
        // Transport errors can carry the backend's address: only the gateway's own words reach
        // the client, the rest stays in the log (DESIGN rule 20).
        let shown = if OWN_REASONS.iter().any(|own| reason.starts_with(own)) {
            reason.as_str()
        } else {
            "the storage backend could not be reached or its answer failed (details are in the gateway's log)"
        };
        self.error(&S3Error::new(
            ErrorCode::BadGateway,
            format!("{what} failed: {shown}"),
        ))
    }

    pub(super) fn failed(&mut self, event: CopyEvent, what: &str) -> CopyStep {
        let resp = self.failure_response(event, what);
        self.finish(resp)
    }

    pub(super) fn error(&self, err: &S3Error) -> Response<Bytes> {
        let err = err.clone().with_resource(self.resource.clone());
        let mut resp = error_response(&Method::PUT, &err, &self.request_id);
        if let Some(cors) = &self.cors {
            cors.apply(resp.headers_mut());
        }
        resp
    }

    pub(super) fn finish(&mut self, resp: Response<Bytes>) -> CopyStep {
        self.state = State::Done;
        CopyStep::Done(resp)
    }
}
