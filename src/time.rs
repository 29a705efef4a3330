//! Minimal UTC time handling: the formats S3 and SigV4 use, without a calendar crate.
//!
//! The core never reads the clock; runtimes pass a [`Timestamp`] in.

use std::fmt;

/// Seconds since the Unix epoch, UTC. The only notion of time the core has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1..=12, day 1..=31) for days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    y: i64,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
}

impl Civil {
    fn of(t: Timestamp) -> Self {
        let days = t.0.div_euclid(86_400);
        let secs = u32::try_from(t.0.rem_euclid(86_400)).unwrap_or(0);
        let (y, mo, d) = civil_from_days(days);
        Civil {
            y,
            mo,
            d,
            h: secs / 3600,
            mi: secs / 60 % 60,
            s: secs % 60,
        }
    }

    fn checked(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Timestamp> {
        if !(1..=12).contains(&mo)
            || d == 0
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || s > 60
        {
            return None;
        }
        let s = s.min(59); // a leap second reads as :59
        Some(Timestamp(
            days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s),
        ))
    }
}

/// Parses exactly `n` ASCII digits.
fn digits(s: &[u8], n: usize) -> Option<u32> {
    if s.len() < n {
        return None;
    }
    s[..n].iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

impl Timestamp {
    /// Parses the SigV4 basic format `20130524T000000Z`.
    pub fn parse_amz_date(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        Civil::checked(
            i64::from(digits(b, 4)?),
            digits(&b[4..], 2)?,
            digits(&b[6..], 2)?,
            digits(&b[9..], 2)?,
            digits(&b[11..], 2)?,
            digits(&b[13..], 2)?,
        )
    }

    /// Parses RFC 3339 (`2024-01-02T03:04:05Z`, fractional seconds and `±hh:mm` offsets allowed).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let base = Civil::checked(
            i64::from(digits(b, 4)?),
            digits(&b[5..], 2)?,
            digits(&b[8..], 2)?,
            digits(&b[11..], 2)?,
            digits(&b[14..], 2)?,
            digits(&b[17..], 2)?,
        )?;
        let mut rest = &b[19..];
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = &rest[1 + n..];
        }
        let offset = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let h = digits(&rest[1..], 2)?;
                let m = digits(&rest[4..], 2)?;
                if h > 23 || m > 59 {
                    return None;
                }
                let off = i64::from(h * 3600 + m * 60);
                if *sign == b'+' {
                    off
                } else {
                    -off
                }
            }
            _ => return None,
        };
        Some(Timestamp(base.0 - offset))
    }

    /// Parses an RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
    pub fn parse_http_date(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 29 || &b[25..] != b" GMT" || b[3] != b',' {
            return None;
        }
        let mo = MONTHS.iter().position(|m| m.as_bytes() == &b[8..11])?;
        Civil::checked(
            i64::from(digits(&b[12..], 4)?),
            u32::try_from(mo + 1).ok()?,
            digits(&b[5..], 2)?,
            digits(&b[17..], 2)?,
            digits(&b[20..], 2)?,
            digits(&b[23..], 2)?,
        )
    }

    /// `20130524T000000Z`
    pub fn amz_date(self) -> String {
        let c = Civil::of(self);
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            c.y, c.mo, c.d, c.h, c.mi, c.s
        )
    }

    /// `20130524`, the credential-scope date.
    pub fn date_stamp(self) -> String {
        let c = Civil::of(self);
        format!("{:04}{:02}{:02}", c.y, c.mo, c.d)
    }

    /// `2013-05-24T00:00:00.000Z`, as S3 writes timestamps in XML.
    pub fn iso8601(self) -> String {
        let c = Civil::of(self);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
            c.y, c.mo, c.d, c.h, c.mi, c.s
        )
    }

    /// `Fri, 24 May 2013 00:00:00 GMT`, as HTTP headers carry dates.
    pub fn http_date(self) -> String {
        let c = Civil::of(self);
        let wd = WEEKDAYS[usize::try_from(self.0.div_euclid(86_400).rem_euclid(7)).unwrap_or(0)];
        format!(
            "{wd}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            c.d,
            MONTHS[(c.mo - 1) as usize],
            c.y,
            c.h,
            c.mi,
            c.s
        )
    }

    /// Seconds from `self` to `later` (negative if `later` is earlier).
    pub fn seconds_until(self, later: Timestamp) -> i64 {
        later.0 - self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso8601())
    }
}

#[cfg(test)]
mod tests;
