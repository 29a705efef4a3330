//! The checks every bucket name, key and version id a client sends passes before it is used.

use super::*;

/// Longest key S3 accepts, in bytes.
pub(super) const MAX_KEY_BYTES: usize = 1024;

/// Longest bucket name the gateway routes, in bytes (configs may hold names S3 would refuse).
pub(super) const MAX_BUCKET_BYTES: usize = 255;

/// Longest version id accepted, in bytes (S3's own are 32; other backends' are longer).
pub(super) const MAX_VERSION_ID_BYTES: usize = 1024;

/// The check every version id a client names passes (the `versionId` query parameter, a copy
/// source's `?versionId=`, ListObjectVersions' `version-id-marker`, a DeleteObjects
/// `<VersionId>`): 1 to 1024 bytes of `A-Z a-z 0-9 . _ - + = /` (what S3, SeaweedFS, MinIO and
/// Ceph issue, and `null`), with no `.` or `..` segment. A version id is glued into a backend
/// header as it is, so nothing that could add a parameter or change a path gets through. S3's
/// answer otherwise.
pub(crate) fn check_version_id(value: &str, argument: &str) -> Result<(), S3Error> {
    let valid = !value.is_empty()
        && value.len() <= MAX_VERSION_ID_BYTES
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'=' | b'/')
        })
        && !has_dot_segment(value);
    if !valid {
        return Err(S3Error::invalid_argument("Invalid version id specified")
            .with_detail("ArgumentName", argument)
            .with_detail("ArgumentValue", value));
    }
    Ok(())
}

/// Query parameters whose values are keys or key prefixes: the backend prefix is glued in
/// front of them, so they pass the same dot-segment check as keys.
pub(super) const KEY_QUERY_PARAMS: &[&str] = &["prefix", "marker", "start-after", "key-marker"];

/// The check every bucket name a client sends passes before it is used (path, Host header,
/// `x-amz-copy-source`): non-empty, at most 255 bytes, only `A-Z a-z 0-9 . _ -`, and not `.` or
/// `..`. A `/` (from `%2F`) would turn a bucket-level request into an object one, and a name
/// that is no DNS label could steer a virtual-hosted backend request to another host. Configured
/// buckets may keep legacy names inside this set (see `config::validate`); names that reach a
/// backend as they are (pass-through buckets) must pass [`check_s3_bucket_name`] too.
pub(crate) fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let refuse = |why: &str| {
        Err(S3Error::new(
            ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {why}"),
        )
        .with_detail("BucketName", name))
    };
    if name.is_empty() {
        return refuse("the name is empty");
    }
    if name.len() > MAX_BUCKET_BYTES {
        return refuse("the name is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return refuse("the name is a dot segment");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return refuse(&format!(
            "it contains {c:?}; bucket names are letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// S3's own bucket naming rules, for names the gateway passes to a backend as they are
/// (pass-through glob buckets): 3-63 characters of `a-z 0-9 . -`, starting and ending with a
/// letter or digit, no `..`, not an IPv4 address, no `xn--` prefix and no `-s3alias` or
/// `--ol-s3` suffix.
pub(crate) fn check_s3_bucket_name(name: &str) -> Result<(), S3Error> {
    check_bucket_name(name)?;
    let bytes = name.as_bytes();
    let why = if !(3..=63).contains(&bytes.len()) {
        Some("a bucket name is 3 to 63 characters long")
    } else if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        Some("a bucket name is lowercase letters, digits, '.' and '-'")
    } else if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        Some("a bucket name starts and ends with a letter or digit")
    } else if name.contains("..") {
        Some("a bucket name has no two adjacent periods")
    } else if name.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("a bucket name is not an IP address")
    } else if name.starts_with("xn--") || name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        Some("the prefix 'xn--' and the suffixes '-s3alias' and '--ol-s3' are reserved")
    } else {
        None
    };
    match why {
        Some(why) => Err(S3Error::new(
            ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {why}"),
        )
        .with_detail("BucketName", name)),
        None => Ok(()),
    }
}

/// Whether `path` has a `.` or `..` segment (between `/`s, or at either end).
pub(crate) fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

/// The check every decoded key passes before it is used (request path, copy source, path
/// mapping, DeleteObjects bodies, POST forms): no `.` or `..` segment. S3 keeps such keys
/// verbatim, but `fetch()` and HTTP proxies normalize them away (also `%2e`), so the backend
/// would be asked for another key than the one authorized, possibly outside the backend prefix.
pub(crate) fn check_key(key: &str) -> Result<(), S3Error> {
    if has_dot_segment(key) {
        return Err(S3Error::invalid_argument(format!(
            "the key '{key}' has a '.' or '..' path segment; such keys are refused because \
             fetch() and HTTP proxies normalize them into other keys"
        ))
        .with_detail("ArgumentName", "key"));
    }
    Ok(())
}

/// [`check_key`] for a listing's `prefix`, `marker`, `start-after` and `key-marker`. A prefix
/// may end in `.` or `..` (the start of a name such as `.hidden`): only complete segments count.
pub(super) fn check_key_param(name: &str, value: &str) -> Result<(), S3Error> {
    let complete = if name == "prefix" {
        value.rsplit_once('/').map_or("", |(done, _)| done)
    } else {
        value
    };
    if has_dot_segment(complete) {
        return Err(S3Error::invalid_argument(format!(
            "the {name} '{value}' has a '.' or '..' path segment; such values are refused \
             because fetch() and HTTP proxies normalize them"
        ))
        .with_detail("ArgumentName", name.to_string()));
    }
    Ok(())
}
