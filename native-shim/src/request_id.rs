//! Request ids: 16 uppercase hex characters, unique per process, unpredictable across processes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static SEED: OnceLock<u64> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// SplitMix64: a bijection, so distinct counters give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The next id.
pub fn next() -> String {
    let seed = *SEED.get_or_init(|| {
        let mut b = [0u8; 8];
        // Without OS randomness ids are still unique, only predictable.
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016X}", mix(seed.wrapping_add(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sixteen_uppercase_hex_digits_and_unique() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| next()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|i| i.len() == 16
            && i.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))));
    }
}
