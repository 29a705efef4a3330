//! Object lock and default encryption, as the gateway checks them before forwarding: the small
//! request documents (`<Retention>`, `<LegalHold>`, `<ObjectLockConfiguration>`,
//! `<ServerSideEncryptionConfiguration>`) parsed into what they say and written anew (the
//! client's bytes never reach the backend), and the `x-amz-object-lock-*`,
//! `x-amz-bypass-governance-retention` and `x-amz-bucket-object-lock-enabled` headers checked.
//!
//! Errors are S3's: a document that does not validate is `MalformedXML` (also a mode or status
//! outside S3's words, as S3 answers), a default retention that is not a positive number is
//! `InvalidRetentionPeriod`, a bad header is `InvalidArgument`.

use http::HeaderMap;

use super::error::{ErrorCode, S3Error};
use super::xml::{malformed_xml, push_leaf, BodyReader, Node};
use crate::time::Timestamp;

/// Largest body of these documents the gateway reads (each is well under 1 KiB).
pub(crate) const MAX_SETTINGS_BODY: usize = 16 << 10;

/// An object lock retention mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// Deletable and shortenable by callers allowed to bypass governance retention.
    Governance,
    /// Nobody may delete or shorten it.
    Compliance,
}

impl LockMode {
    /// S3's word: exactly `GOVERNANCE` or `COMPLIANCE` (S3 refuses other cases too).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(Self::Governance),
            "COMPLIANCE" => Some(Self::Compliance),
            _ => None,
        }
    }

    /// S3's word.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Governance => "GOVERNANCE",
            Self::Compliance => "COMPLIANCE",
        }
    }
}

/// Parses an ISO 8601 date-time (`2030-01-01T00:00:00Z`, fractions and offsets allowed) into
/// the instant it names, written back as `2030-01-01T00:00:00.000Z`. A fraction of a second
/// rounds up: a retention is never shortened by the rewriting.
fn retain_until(s: &str) -> Option<String> {
    let t = Timestamp::parse_rfc3339(s)?;
    let fraction = s
        .split_once('.')
        .is_some_and(|(_, f)| f.bytes().take_while(u8::is_ascii_digit).any(|b| b != b'0'));
    Some(Timestamp(t.0 + i64::from(fraction)).iso8601())
}

/// A small settings document as its leaves: `(path below the root, trimmed text)`, e.g.
/// `("Rule/DefaultRetention/Mode", "GOVERNANCE")`. Only the paths in `known` (and the elements
/// leading to them) may appear, each leaf once; the root is `root`. An empty root has no leaves.
fn leaves(body: &[u8], root: &str, known: &[&str]) -> Result<Vec<(String, String)>, S3Error> {
    let mut xml = BodyReader::new(body);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rooted = false;
    let one_root = || malformed_xml(&format!("the document is one <{root}> element"));
    while let Some(node) = xml.next()? {
        match node {
            Node::Open { name, empty } => {
                let name = std::str::from_utf8(&name)
                    .map_err(|_| malformed_xml("an element name is not UTF-8"))?;
                if xml.depth() == 0 {
                    if name != root || rooted {
                        return Err(one_root());
                    }
                    rooted = true;
                } else {
                    let path = leaf_path(xml.parents(), name);
                    let leaf = known_path(known, &path, root, name)?;
                    if empty && leaf {
                        add_leaf(&mut out, path, String::new())?;
                    }
                }
                if empty {
                    xml.clear_text();
                }
            }
            Node::Close { name, text } if xml.depth() > 0 => {
                let name = String::from_utf8_lossy(&name);
                let path = leaf_path(xml.parents(), &name);
                if known.contains(&path.as_str()) {
                    add_leaf(&mut out, path, text.trim().to_string())?;
                } else if !text.trim().is_empty() {
                    return Err(malformed_xml(&format!("<{name}> holds elements, not text")));
                }
            }
            Node::Close { .. } => {}
        }
    }
    if !rooted {
        return Err(one_root());
    }
    Ok(out)
}

/// The path below the root of the element `name` whose ancestors are `parents` (root first).
fn leaf_path(parents: &[Vec<u8>], name: &str) -> String {
    parents[1..]
        .iter()
        .map(|p| String::from_utf8_lossy(p))
        .chain([name.into()])
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `path` is a leaf of `known` (Ok(true)) or leads to one (Ok(false)); `MalformedXML`
/// for an element the document does not have there.
fn known_path(known: &[&str], path: &str, root: &str, name: &str) -> Result<bool, S3Error> {
    let leaf = known.contains(&path);
    let inner = known
        .iter()
        .any(|k| k.len() > path.len() && k.starts_with(path) && k[path.len()..].starts_with('/'));
    if !leaf && !inner {
        return Err(malformed_xml(&format!(
            "<{name}> is not an element of <{root}> here"
        )));
    }
    Ok(leaf)
}

fn add_leaf(out: &mut Vec<(String, String)>, path: String, text: String) -> Result<(), S3Error> {
    if out.iter().any(|(p, _)| *p == path) {
        return Err(malformed_xml(&format!("<{path}> is given more than once")));
    }
    out.push((path, text));
    Ok(())
}

fn leaf<'a>(leaves: &'a [(String, String)], path: &str) -> Option<&'a str> {
    leaves
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, v)| v.as_str())
}

/// A PutObjectRetention body: a mode and a date, or neither (which removes a governance
/// retention, for callers allowed to bypass it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Retention {
    /// The mode and the retain-until date (normalized ISO 8601).
    pub lock: Option<(LockMode, String)>,
}

/// Parses a `<Retention>` body.
pub(crate) fn parse_retention(body: &[u8]) -> Result<Retention, S3Error> {
    let l = leaves(body, "Retention", &["Mode", "RetainUntilDate"])?;
    let mode = leaf(&l, "Mode")
        .map(|m| {
            LockMode::parse(m).ok_or_else(|| {
                malformed_xml(&format!(
                    "the retention mode '{m}' is not GOVERNANCE or COMPLIANCE"
                ))
            })
        })
        .transpose()?;
    let date = leaf(&l, "RetainUntilDate")
        .map(|d| {
            retain_until(d).ok_or_else(|| {
                malformed_xml(&format!(
                    "RetainUntilDate '{d}' is not an ISO 8601 date-time"
                ))
            })
        })
        .transpose()?;
    match (mode, date) {
        (Some(m), Some(d)) => Ok(Retention { lock: Some((m, d)) }),
        (None, None) => Ok(Retention { lock: None }),
        _ => Err(malformed_xml(
            "a <Retention> gives both a Mode and a RetainUntilDate, or neither",
        )),
    }
}

/// The PutObjectRetention body the gateway forwards.
pub(crate) fn retention_xml(r: &Retention) -> String {
    let mut out = String::from("<Retention>");
    if let Some((mode, date)) = &r.lock {
        push_leaf(&mut out, "Mode", mode.as_str());
        push_leaf(&mut out, "RetainUntilDate", date);
    }
    out.push_str("</Retention>");
    out
}

/// Parses a `<LegalHold>` body: its status, `ON` or `OFF`.
pub(crate) fn parse_legal_hold(body: &[u8]) -> Result<bool, S3Error> {
    let l = leaves(body, "LegalHold", &["Status"])?;
    match leaf(&l, "Status") {
        Some("ON") => Ok(true),
        Some("OFF") => Ok(false),
        Some(other) => Err(malformed_xml(&format!(
            "the legal hold status '{other}' is not ON or OFF"
        ))),
        None => Err(malformed_xml("a <LegalHold> gives its Status")),
    }
}

/// The PutObjectLegalHold body the gateway forwards.
pub(crate) fn legal_hold_xml(on: bool) -> String {
    let mut out = String::from("<LegalHold>");
    push_leaf(&mut out, "Status", if on { "ON" } else { "OFF" });
    out.push_str("</LegalHold>");
    out
}

/// A default retention period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Period {
    /// `<Days>`.
    Days(u32),
    /// `<Years>`.
    Years(u32),
}

/// A PutObjectLockConfiguration body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LockConfiguration {
    /// `<ObjectLockEnabled>Enabled</ObjectLockEnabled>` was given.
    pub enabled: bool,
    /// The default retention of new objects.
    pub default_retention: Option<(LockMode, Period)>,
}

/// Parses an `<ObjectLockConfiguration>` body: `ObjectLockEnabled` is `Enabled` when given; a
/// default retention has a mode and exactly one of Days and Years, a positive number.
pub(crate) fn parse_lock_configuration(body: &[u8]) -> Result<LockConfiguration, S3Error> {
    const MODE: &str = "Rule/DefaultRetention/Mode";
    const DAYS: &str = "Rule/DefaultRetention/Days";
    const YEARS: &str = "Rule/DefaultRetention/Years";
    let l = leaves(
        body,
        "ObjectLockConfiguration",
        &["ObjectLockEnabled", MODE, DAYS, YEARS],
    )?;
    let enabled = match leaf(&l, "ObjectLockEnabled") {
        None => false,
        Some("Enabled") => true,
        Some(other) => {
            return Err(malformed_xml(&format!(
                "ObjectLockEnabled '{other}' is not Enabled"
            )))
        }
    };
    let number = |v: &str| -> Result<u32, S3Error> {
        let n: i64 = v
            .parse()
            .map_err(|_| malformed_xml(&format!("the retention period '{v}' is not a number")))?;
        u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
            S3Error::new(
                ErrorCode::InvalidRetentionPeriod,
                "Default retention period must be a positive integer value",
            )
        })
    };
    let mode = leaf(&l, MODE);
    let period = match (leaf(&l, DAYS), leaf(&l, YEARS)) {
        (Some(_), Some(_)) => {
            return Err(malformed_xml(
                "a DefaultRetention gives Days or Years, not both",
            ))
        }
        (Some(d), None) => Some(Period::Days(number(d)?)),
        (None, Some(y)) => Some(Period::Years(number(y)?)),
        (None, None) => None,
    };
    let default_retention = match (mode, period) {
        (None, None) => None,
        (Some(m), Some(p)) => Some((
            LockMode::parse(m).ok_or_else(|| {
                malformed_xml(&format!(
                    "the retention mode '{m}' is not GOVERNANCE or COMPLIANCE"
                ))
            })?,
            p,
        )),
        _ => {
            return Err(malformed_xml(
                "a DefaultRetention gives a Mode and one of Days or Years",
            ))
        }
    };
    Ok(LockConfiguration {
        enabled,
        default_retention,
    })
}

/// The PutObjectLockConfiguration body the gateway forwards.
pub(crate) fn lock_configuration_xml(c: &LockConfiguration) -> String {
    let mut out = String::from("<ObjectLockConfiguration>");
    if c.enabled {
        push_leaf(&mut out, "ObjectLockEnabled", "Enabled");
    }
    if let Some((mode, period)) = c.default_retention {
        out.push_str("<Rule><DefaultRetention>");
        push_leaf(&mut out, "Mode", mode.as_str());
        match period {
            Period::Days(n) => push_leaf(&mut out, "Days", &n.to_string()),
            Period::Years(n) => push_leaf(&mut out, "Years", &n.to_string()),
        }
        out.push_str("</DefaultRetention></Rule>");
    }
    out.push_str("</ObjectLockConfiguration>");
    out
}

/// A PutBucketEncryption body (one rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EncryptionConfiguration {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: &'static str,
    /// The KMS key (only with a KMS algorithm).
    pub kms_key_id: Option<String>,
    /// `<BucketKeyEnabled>`.
    pub bucket_key_enabled: Option<bool>,
}

/// Longest KMS key id or ARN the gateway forwards.
const MAX_KMS_KEY_ID: usize = 2048;

/// Parses a `<ServerSideEncryptionConfiguration>` body with one `<Rule>`: an algorithm S3
/// knows (`MalformedXML` otherwise), a `KMSMasterKeyID` only with a KMS algorithm
/// (`InvalidArgument`), `BucketKeyEnabled` `true` or `false`.
pub(crate) fn parse_encryption(body: &[u8]) -> Result<EncryptionConfiguration, S3Error> {
    const ALGORITHM: &str = "Rule/ApplyServerSideEncryptionByDefault/SSEAlgorithm";
    const KEY: &str = "Rule/ApplyServerSideEncryptionByDefault/KMSMasterKeyID";
    const BUCKET_KEY: &str = "Rule/BucketKeyEnabled";
    let l = leaves(
        body,
        "ServerSideEncryptionConfiguration",
        &[ALGORITHM, KEY, BUCKET_KEY],
    )?;
    let algorithm = match leaf(&l, ALGORITHM) {
        Some("AES256") => "AES256",
        Some("aws:kms") => "aws:kms",
        Some("aws:kms:dsse") => "aws:kms:dsse",
        Some(other) => {
            return Err(malformed_xml(&format!(
                "the SSEAlgorithm '{other}' is not AES256, aws:kms or aws:kms:dsse"
            )))
        }
        None => {
            return Err(malformed_xml(
                "a <Rule> gives ApplyServerSideEncryptionByDefault with an SSEAlgorithm",
            ))
        }
    };
    let kms_key_id = leaf(&l, KEY).map(str::to_string);
    if let Some(k) = &kms_key_id {
        if algorithm == "AES256" {
            return Err(S3Error::invalid_argument(
                "a KMSMasterKeyID is allowed only with SSEAlgorithm aws:kms or aws:kms:dsse",
            ));
        }
        if k.is_empty() || k.len() > MAX_KMS_KEY_ID {
            return Err(S3Error::invalid_argument(
                "the KMSMasterKeyID is empty or longer than 2048 bytes",
            ));
        }
    }
    let bucket_key_enabled = match leaf(&l, BUCKET_KEY) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(malformed_xml(&format!(
                "BucketKeyEnabled '{other}' is not true or false"
            )))
        }
    };
    Ok(EncryptionConfiguration {
        algorithm,
        kms_key_id,
        bucket_key_enabled,
    })
}

/// The PutBucketEncryption body the gateway forwards.
pub(crate) fn encryption_xml(c: &EncryptionConfiguration) -> String {
    let mut out = String::from(
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>",
    );
    push_leaf(&mut out, "SSEAlgorithm", c.algorithm);
    if let Some(k) = &c.kms_key_id {
        push_leaf(&mut out, "KMSMasterKeyID", k);
    }
    out.push_str("</ApplyServerSideEncryptionByDefault>");
    if let Some(b) = c.bucket_key_enabled {
        push_leaf(
            &mut out,
            "BucketKeyEnabled",
            if b { "true" } else { "false" },
        );
    }
    out.push_str("</Rule></ServerSideEncryptionConfiguration>");
    out
}

/// The one value of a request header, as text; `InvalidArgument` when it is given twice or is
/// not text.
fn one_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, S3Error> {
    let mut values = headers.get_all(name).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        Err(
            S3Error::invalid_argument(format!("the header {name} {why}"))
                .with_detail("ArgumentName", name),
        )
    };
    if values.next().is_some() {
        return refuse("is given more than once");
    }
    match v.to_str() {
        Ok(s) => Ok(Some(s.trim())),
        Err(_) => refuse("is not text"),
    }
}

/// A `true`/`false` header (any case), absent meaning false.
fn bool_header(headers: &HeaderMap, name: &str) -> Result<bool, S3Error> {
    match one_header(headers, name)? {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(S3Error::invalid_argument(format!(
            "the header {name} is '{v}', not true or false"
        ))
        .with_detail("ArgumentName", name)),
    }
}

/// `x-amz-bypass-governance-retention: true` (DeleteObject, DeleteObjects, PutObjectRetention).
pub(crate) fn bypass_governance(headers: &HeaderMap) -> Result<bool, S3Error> {
    bool_header(headers, "x-amz-bypass-governance-retention")
}

/// `x-amz-bucket-object-lock-enabled: true` (CreateBucket).
pub(crate) fn bucket_lock_enabled(headers: &HeaderMap) -> Result<bool, S3Error> {
    bool_header(headers, "x-amz-bucket-object-lock-enabled")
}

/// The object lock an upload or copy asks for in its headers, checked, with the values the
/// gateway forwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LockHeaders {
    /// `x-amz-object-lock-mode` and `x-amz-object-lock-retain-until-date` (normalized).
    pub retention: Option<(LockMode, String)>,
    /// `x-amz-object-lock-legal-hold`: `ON` or `OFF`.
    pub legal_hold: Option<bool>,
}

impl LockHeaders {
    /// Whether any object lock header was sent.
    pub(crate) fn any(&self) -> bool {
        self.retention.is_some() || self.legal_hold.is_some()
    }
}

/// The `x-amz-object-lock-*` headers of PutObject, CopyObject and CreateMultipartUpload, as S3
/// checks them: a mode of `GOVERNANCE` or `COMPLIANCE` with an ISO 8601 retain-until date (both
/// or neither), a legal hold of `ON` or `OFF`, each header once. `InvalidArgument` otherwise.
pub(crate) fn lock_headers(headers: &HeaderMap) -> Result<LockHeaders, S3Error> {
    const MODE: &str = "x-amz-object-lock-mode";
    const DATE: &str = "x-amz-object-lock-retain-until-date";
    const HOLD: &str = "x-amz-object-lock-legal-hold";
    let mode = one_header(headers, MODE)?
        .map(|m| {
            LockMode::parse(m).ok_or_else(|| {
                S3Error::invalid_argument("Unknown wormMode directive.")
                    .with_detail("ArgumentName", MODE)
                    .with_detail("ArgumentValue", m)
            })
        })
        .transpose()?;
    let date = one_header(headers, DATE)?
        .map(|d| {
            retain_until(d).ok_or_else(|| {
                S3Error::invalid_argument(
                    "The retain until date must be provided in ISO 8601 format",
                )
                .with_detail("ArgumentName", DATE)
                .with_detail("ArgumentValue", d)
            })
        })
        .transpose()?;
    let retention = match (mode, date) {
        (Some(m), Some(d)) => Some((m, d)),
        (None, None) => None,
        _ => return Err(S3Error::invalid_argument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
        )),
    };
    let legal_hold = match one_header(headers, HOLD)? {
        None => None,
        Some("ON") => Some(true),
        Some("OFF") => Some(false),
        Some(other) => {
            return Err(
                S3Error::invalid_argument("Legal Hold must be either of 'ON' or 'OFF'")
                    .with_detail("ArgumentName", HOLD)
                    .with_detail("ArgumentValue", other),
            )
        }
    };
    Ok(LockHeaders {
        retention,
        legal_hold,
    })
}

/// The names of the headers [`LockHeaders`] stands for.
#[cfg(test)]
pub(crate) const LOCK_HEADERS: [&str; 3] = [
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
];

#[cfg(test)]
mod tests;
