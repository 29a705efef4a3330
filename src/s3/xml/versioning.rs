//! Bucket versioning documents.

use super::*;

/// A checked PutBucketVersioning body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Versioning {
    /// `Enabled` or `Suspended`.
    pub status: &'static str,
    /// `<MfaDelete>Disabled</MfaDelete>` was given (tools send it with every change).
    pub mfa_delete_disabled: bool,
}

pub(super) fn mfa_delete_enabled() -> S3Error {
    S3Error::not_implemented(
        "MfaDelete Enabled needs the bucket owner's MFA device (x-amz-mfa), which this gateway \
         does not forward; set it at the backend",
    )
}

/// Parses a PutBucketVersioning body: a `<VersioningConfiguration>` whose `<Status>` is
/// `Enabled` or `Suspended`, with an optional `<MfaDelete>`. `MalformedXML` for anything else,
/// as S3 answers; `NotImplemented` for `<MfaDelete>Enabled`, which needs the `x-amz-mfa` header of
/// the bucket owner's device (a gateway has none to give). `Disabled` is forwarded: the backend
/// decides (S3 refuses a change of it without `x-amz-mfa`).
pub(crate) fn parse_versioning(body: &[u8]) -> Result<Versioning, S3Error> {
    let mut xml = BodyReader::new(body);
    let mut status: Option<&'static str> = None;
    let mut mfa: Option<bool> = None;
    while let Some(node) = xml.next()? {
        match node {
            Node::Open { empty: true, .. } if xml.depth() == 0 => {
                return Err(malformed_xml(
                    "a <VersioningConfiguration> must give a <Status>",
                ))
            }
            Node::Open { empty: true, .. } => return Err(malformed_xml("an empty element")),
            Node::Open { name, .. } if xml.depth() == 0 && name != b"VersioningConfiguration" => {
                return Err(malformed_xml(
                    "the root element must be <VersioningConfiguration>",
                ));
            }
            Node::Open { .. } => {}
            Node::Close { name, text } => match (name.as_slice(), xml.depth()) {
                (b"Status", 1) => {
                    if status.is_some() {
                        return Err(malformed_xml("<Status> is given more than once"));
                    }
                    status = Some(versioning_status(text.trim())?);
                }
                (b"MfaDelete", 1) => {
                    if mfa.is_some() {
                        return Err(malformed_xml("<MfaDelete> is given more than once"));
                    }
                    mfa = Some(mfa_delete_disabled(text.trim())?);
                }
                (_, 0) => {}
                _ => return Err(malformed_xml("unknown element")),
            },
        }
    }
    let status =
        status.ok_or_else(|| malformed_xml("a <VersioningConfiguration> must give a <Status>"))?;
    Ok(Versioning {
        status,
        mfa_delete_disabled: mfa.is_some(),
    })
}

/// A `<Status>`: S3's two words.
pub(super) fn versioning_status(text: &str) -> Result<&'static str, S3Error> {
    match text {
        "Enabled" => Ok("Enabled"),
        "Suspended" => Ok("Suspended"),
        _ => Err(malformed_xml("<Status> must be Enabled or Suspended")),
    }
}

/// A `<MfaDelete>`: `Disabled` is forwarded, `Enabled` cannot be (see [`parse_versioning`]).
pub(super) fn mfa_delete_disabled(text: &str) -> Result<bool, S3Error> {
    match text {
        "Disabled" => Ok(true),
        "Enabled" => Err(mfa_delete_enabled()),
        _ => Err(malformed_xml("<MfaDelete> must be Enabled or Disabled")),
    }
}

/// The PutBucketVersioning body the gateway forwards.
pub(crate) fn versioning_xml(v: Versioning) -> String {
    let mut out = format!("<VersioningConfiguration xmlns=\"{S3_NS}\">");
    push_leaf(&mut out, "Status", v.status);
    if v.mfa_delete_disabled {
        push_leaf(&mut out, "MfaDelete", "Disabled");
    }
    out.push_str("</VersioningConfiguration>");
    out
}
