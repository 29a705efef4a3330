//! Step 3: the claims (`iss`, `aud`, `exp`, `nbf`, `iat`, `sub`) and the role's claim
//! conditions, at the `now` passed in.

use super::*;

pub(super) fn numeric_date(
    claims: &Claims,
    name: &'static str,
) -> Result<Option<Timestamp>, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(Timestamp(i)))
            } else {
                // Fractional NumericDate: whole seconds, floor (always finite from JSON).
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_finite() && f.abs() < 1e15 {
                    #[allow(clippy::cast_possible_truncation)] // bounded just above
                    Ok(Some(Timestamp(f.floor() as i64)))
                } else {
                    Err(JwtError::Malformed("a date claim is out of range"))
                }
            }
        }
        Some(_) => Err(JwtError::Malformed("a date claim is not a number")),
    }
}

/// What [`check_claims`] found: the values the STS response reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CheckedClaims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// The audience that matched (always set: a role without audiences accepts no token).
    pub audience: Option<String>,
    /// `exp`.
    pub expires_at: Timestamp,
}

/// Checks verified claims against `role` at `now`.
pub(crate) fn check_claims(
    claims: &Claims,
    role: &RoleConfig,
    now: Timestamp,
) -> Result<CheckedClaims, JwtError> {
    let issuer = match claims.get("iss") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(JwtError::MissingClaim("iss")),
        Some(_) => return Err(JwtError::Malformed("iss is not a string")),
    };
    if !role.trusted_oidc_issuers.contains(&issuer) {
        return Err(JwtError::UntrustedIssuer(issuer));
    }

    let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    if now >= exp {
        return Err(JwtError::Expired(exp));
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now.0.saturating_add(LEEWAY_SECS) < nbf.0 {
            return Err(JwtError::NotYetValid(nbf));
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if now.0.saturating_add(LEEWAY_SECS) < iat.0 {
            return Err(JwtError::IssuedInFuture(iat));
        }
    }

    let auds: Vec<&str> = match claims.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or(JwtError::Malformed("aud holds a non-string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(JwtError::Malformed("aud is not a string or a list")),
    };
    // A role without audiences is refused at config load; should one get here anyway, it
    // accepts nothing (fail closed), never any audience.
    let audience = Some(
        auds.iter()
            .find(|a| role.required_audiences.iter().any(|r| r == *a))
            .ok_or(JwtError::AudienceMismatch)?
            .to_string(),
    );

    let subject = match claims.get("sub") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(JwtError::MissingClaim("sub")),
        Some(_) => return Err(JwtError::Malformed("sub is not a string")),
    };
    if !role
        .subject_conditions
        .iter()
        .any(|g| glob_match(g, &subject))
    {
        return Err(JwtError::SubjectRejected(subject));
    }

    for (claim, globs) in &role.claim_conditions {
        if !claim_matches(claims.get(claim), globs) {
            return Err(JwtError::ClaimRejected(claim.clone()));
        }
    }

    Ok(CheckedClaims {
        issuer,
        subject,
        audience,
        expires_at: exp,
    })
}

/// A claim value against globs: strings as they are, numbers and booleans by their JSON text,
/// lists when any element matches; absent, null and objects never match.
pub(super) fn claim_matches(value: Option<&Value>, globs: &[String]) -> bool {
    let one = |text: &str| globs.iter().any(|g| glob_match(g, text));
    match value {
        Some(Value::String(s)) => one(s),
        Some(Value::Number(n)) => one(&n.to_string()),
        Some(Value::Bool(b)) => one(if *b { "true" } else { "false" }),
        Some(Value::Array(items)) => items
            .iter()
            .any(|v| !matches!(v, Value::Array(_)) && claim_matches(Some(v), globs)),
        _ => false,
    }
}
