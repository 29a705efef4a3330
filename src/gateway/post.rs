//! POST Object in the pipeline (see [`crate::post`]): the first call asks the runtime for the
//! form's preamble; the second verifies the form and turns it into the key's PutObject plan, whose
//! body is the rest of the client's stream through a [`crate::post::FormBody`] and whose success
//! is answered as the form asked.

use http::{HeaderMap, Method};

use super::{sts, Gateway, Plan, RequestContext, RequestHead};
use crate::auth::{Authenticated, PayloadMode};
use crate::policy::Identity;
use crate::post::{self, FormBody, FormReader, PostAnswer, PostForm};
use crate::s3::request::{Operation, S3Request};
use crate::s3::{ErrorCode, S3Error};

impl Gateway {
    /// `form`: None on the first call (answered with [`Plan::NeedForm`]), the fed reader after.
    pub(super) fn plan_post(
        &self,
        head: &RequestHead,
        req: &S3Request,
        ctx: &RequestContext,
        form: Option<FormReader>,
    ) -> Result<Plan, S3Error> {
        let name = req.bucket.clone().unwrap_or_default();
        let resource = format!("/{name}");
        if self.find_bucket(&name).is_none() {
            return Err(S3Error::new(
                ErrorCode::NoSuchBucket,
                format!("the bucket '{name}' does not exist"),
            )
            .with_resource(resource)
            .with_detail("BucketName", name));
        }
        let Some(reader) = form else {
            let boundary = post::form::boundary(&head.headers)?;
            let length = crate::backend::upload::content_length(&head.headers)?;
            return Ok(Plan::NeedForm(Box::new(FormReader::new(&boundary, length))));
        };
        let form = reader
            .finish()
            .map_err(|e| e.with_resource(resource.clone()))?;
        let authed = post::authenticate(
            &form,
            &sts::GatewayCredentials {
                index: &self.credentials,
                sessions: self.options.session_keys.as_ref(),
            },
            &self.auth,
            &self.signing_keys,
            ctx.now,
        )
        .map_err(|e| e.with_resource(resource.clone()))?;
        let key = post::object_key(&form)?;
        let (file_len, body) = form.file_body()?;
        if let Some(policy) = &authed.policy {
            policy
                .check(&form, &name, &key, file_len, ctx.now)
                .map_err(|e| e.with_resource(resource.clone()))?;
        }
        self.plan_form_put(req, ctx, &form, authed.identity, &key, (file_len, body))
    }

    /// The key's PutObject a verified form stands for, authorized and planned as any other,
    /// its body the form's file and its success answered as the form asked.
    fn plan_form_put(
        &self,
        req: &S3Request,
        ctx: &RequestContext,
        form: &PostForm,
        identity: Identity,
        key: &str,
        (file_len, body): (u64, FormBody),
    ) -> Result<Plan, S3Error> {
        let name = req.bucket.clone().unwrap_or_default();
        let headers = post::put_headers(form, file_len);
        let put = put_request(req, key, headers);
        let put_req = S3Request {
            operation: Operation::PutObject,
            bucket: Some(name.clone()),
            key: Some(key.to_string()),
            raw_path: put.target.clone(),
            raw_query: String::new(),
            query: Vec::new(),
            virtual_hosted: false,
        };
        let put_authed = Authenticated {
            identity,
            payload: PayloadMode::Unsigned,
            chunk_signing: None,
        };
        let location = format!("/{name}/{}", crate::backend::s3::encode_path(key));
        let answer = PostAnswer::new(form, &name, key, location);
        let body = super::ForwardBody::Form(body).with_header_checksum(&put.headers)?;
        Ok(
            match self.plan_authenticated(&put, &put_req, &put_authed, ctx, None, None)? {
                Plan::Forward(mut fwd) => {
                    fwd.body = body;
                    fwd.finish.post = Some(answer);
                    Plan::Forward(fwd)
                }
                Plan::R2(mut r2) => {
                    r2.body = body;
                    r2.post = Some(answer);
                    Plan::R2(r2)
                }
                // The form's reader is spent by now: it cannot be planned again with credentials.
                Plan::NeedBackendCredentials(_) => {
                    return Err(S3Error::not_implemented(
                        "browser form uploads (POST Object) to a bucket with auth_type = \"oidc\" \
                         are not supported yet; use a presigned PUT",
                    )
                    .with_resource(format!("/{name}")))
                }
                other => other,
            },
        )
    }
}

/// The PutObject head a form stands for.
fn put_request(req: &S3Request, key: &str, headers: HeaderMap) -> RequestHead {
    let bucket = req.bucket.as_deref().unwrap_or_default();
    RequestHead {
        method: Method::PUT,
        target: format!(
            "/{}/{}",
            crate::backend::s3::encode_path(bucket),
            crate::backend::s3::encode_path(key)
        ),
        headers,
    }
}

#[cfg(test)]
mod tests;
