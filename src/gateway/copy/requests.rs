//! The backend requests of a streamed copy: the source's GET, the destination's PUT or
//! multipart calls, each built from the copy's endpoints and presigned when it is sent.

use super::*;

impl StreamedCopy {
    pub(super) fn source_get(&self, mut headers: HeaderMap, now: Timestamp) -> Forward {
        let query: Vec<(String, String)> = self
            .source_version
            .iter()
            .map(|v| ("versionId".to_string(), v.clone()))
            .collect();
        // Never reached for R2: an R2 source is opened with `OpenR2`. An empty URL fails the
        // step instead of panicking.
        let Store::S3 { backend, bucket } = &self.source.store else {
            return self.forward(Method::GET, String::new(), headers, ForwardBody::Empty);
        };
        let url = backend.url(
            &mut BackendRequest {
                bucket: bucket.as_deref(),
                method: &Method::GET,
                key: Some(&self.source.key),
                query: &query,
                headers: &mut headers,
            },
            now,
            None,
        );
        self.forward(Method::GET, url, headers, ForwardBody::Empty)
    }

    /// The write of a whole object, or of the client's part (UploadPartCopy).
    pub(super) fn single_put(
        &mut self,
        mut headers: HeaderMap,
        size: u64,
        now: Timestamp,
    ) -> CopyStep {
        if let Store::R2 { binding } = &self.dest.store {
            let Target::Object { headers: extra, .. } = &self.target else {
                return self.finish(self.error(&S3Error::not_implemented(
                    "UploadPartCopy into an R2 bucket works only from a bucket on the same R2 binding",
                )));
            };
            let (http, custom) = upload_metadata(&headers);
            return CopyStep::PipeR2(R2Put {
                binding: binding.clone(),
                key: self.dest.key.clone(),
                length: size,
                http,
                custom,
                conditions: Conditions::from_headers(extra, ""),
            });
        }
        let query = match &self.target {
            Target::Object { headers: extra, .. } => {
                for (name, value) in extra {
                    headers.append(name.clone(), value.clone());
                }
                Vec::new()
            }
            Target::Part {
                part_number,
                upload_id,
                ..
            } => vec![
                ("partNumber".to_string(), part_number.clone()),
                ("uploadId".to_string(), upload_id.clone()),
            ],
        };
        set_header(&mut headers, "content-length", &size.to_string());
        CopyStep::Pipe(self.dest_request_with_body(
            Method::PUT,
            &query,
            headers,
            ForwardBody::Stream,
            now,
        ))
    }

    pub(super) fn create(&self, upload: &Upload, now: Timestamp) -> Forward {
        let mut headers = upload.metadata.clone();
        if let Target::Object { headers: extra, .. } = &self.target {
            for (name, value) in extra {
                // The destination's conditions belong to the Complete.
                if name != http::header::IF_MATCH && name != http::header::IF_NONE_MATCH {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
        let query = [("uploads".to_string(), String::new())];
        self.dest_request(Method::POST, &query, headers, now)
    }

    pub(super) fn part_put(&self, upload: &Upload, n: u64, size: u64, now: Timestamp) -> Forward {
        let query = [
            ("partNumber".to_string(), n.to_string()),
            ("uploadId".to_string(), upload.id.clone()),
        ];
        let mut headers = HeaderMap::new();
        set_header(&mut headers, "content-length", &size.to_string());
        self.dest_request_with_body(Method::PUT, &query, headers, ForwardBody::Stream, now)
    }

    pub(super) fn complete(&self, upload: &Upload, now: Timestamp) -> Forward {
        let body = Bytes::from(xml::complete_xml(&upload.parts));
        let mut headers = HeaderMap::new();
        if let Target::Object { headers: extra, .. } = &self.target {
            for name in [http::header::IF_MATCH, http::header::IF_NONE_MATCH] {
                if let Some(v) = extra.get(&name) {
                    headers.insert(name, v.clone());
                }
            }
        }
        set_header(&mut headers, "content-type", "application/xml");
        set_header(&mut headers, "content-length", &body.len().to_string());
        let query = [("uploadId".to_string(), upload.id.clone())];
        self.dest_request_with_body(Method::POST, &query, headers, ForwardBody::Bytes(body), now)
    }

    pub(super) fn dest_request(
        &self,
        method: Method,
        query: &[(String, String)],
        headers: HeaderMap,
        now: Timestamp,
    ) -> Forward {
        self.dest_request_with_body(method, query, headers, ForwardBody::Empty, now)
    }

    pub(super) fn dest_request_with_body(
        &self,
        method: Method,
        query: &[(String, String)],
        mut headers: HeaderMap,
        body: ForwardBody,
        now: Timestamp,
    ) -> Forward {
        // Never reached for R2: writes into R2 are `PipeR2`, multipart copies into R2 are
        // refused. An empty URL fails the step instead of panicking.
        let Store::S3 { backend, bucket } = &self.dest.store else {
            return self.forward(method, String::new(), headers, body);
        };
        let url = backend.url(
            &mut BackendRequest {
                bucket: bucket.as_deref(),
                method: &method,
                key: Some(&self.dest.key),
                query,
                headers: &mut headers,
            },
            now,
            None,
        );
        self.forward(method, url, headers, body)
    }

    pub(super) fn forward(
        &self,
        method: Method,
        url: String,
        headers: HeaderMap,
        body: ForwardBody,
    ) -> Forward {
        Forward {
            method,
            url,
            headers,
            body,
            request_id: self.request_id.clone(),
            finish: Finish {
                rewrite: None,
                resource: self.resource.clone(),
                delete_errors: Vec::new(),
                passthrough: false,
                cors: self.cors.clone(),
                post: None,
                answer: Box::new(crate::plan::answer::S3Answer),
                bodyless_success: false,
                lock_guarded: false,
                hidden: Vec::new(),
            },
        }
    }
}
