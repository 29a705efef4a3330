//! The fuzz targets as property tests on stable: every corpus seed in `fuzz/corpus/<target>/`
//! as an explicit case, then a fixed number of generated cases per target (seeds mutated the
//! way libFuzzer mutates them: byte flips, insertions of bytes and tokens, deletions,
//! duplications, splices), drawn with `arbtest` from fixed seeds so a run is reproducible and
//! bounded. A failure names the arbtest seed; `FUZZ_PROPS_CASES=N` runs more cases.
//!
//! `UPDATE_FUZZ_CORPUS=1 cargo test -p multistore fuzz_corpus` rewrites the seeds from
//! [`super::harness::seeds`]; files the fuzzer added to a corpus are kept.

use std::path::PathBuf;

use arbtest::arbitrary::Unstructured;

use super::harness::{self, seeds, TARGETS};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The committed corpus of a target (sorted, so cases are stable).
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let Ok(dir) = std::fs::read_dir(corpus_dir(target)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// Tokens the parsers give meaning to, inserted by the mutator.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"%2F",
    b"%2E%2E",
    b"%",
    b"/",
    b"..",
    b"?",
    b"&",
    b"=",
    b";",
    b",",
    b":",
    b" ",
    b"\"",
    b"<",
    b">",
    b"&amp;",
    b"&#x0;",
    b"<![CDATA[",
    b"]]>",
    b"</Key>",
    b"<Part>",
    b"</Part>",
    b"<Object>",
    b"</Object>",
    b"X-Amz-Expires=",
    b"X-Amz-Algorithm=",
    b"X-Amz-Credential=",
    b"AWSAccessKeyId=",
    b"Expires=",
    b"Signature=",
    b"prefix=",
    b"uploadId=",
    b"partNumber=",
    b"chunk-signature=",
    b"x-amz-checksum-crc32:",
    b"0\r\n",
    b"ffffffff",
    b"18446744073709551615",
    b"-1",
    b"0",
    b"$key",
    b"starts-with",
    b"${filename}",
    b"[[buckets]]",
    b"\"name\"",
    b"=\"",
    b"\xff",
    b"\x00",
    b"\xc3\x28",
];

/// One generated case: a corpus seed (or nothing) with a few mutations.
fn mutate(u: &mut Unstructured<'_>, seeds: &[Vec<u8>]) -> arbtest::arbitrary::Result<Vec<u8>> {
    let mut data = if seeds.is_empty() || u.ratio(1, 8)? {
        Vec::new()
    } else {
        u.choose(seeds)?.clone()
    };
    for _ in 0..u.int_in_range(1..=6)? {
        let at = if data.is_empty() {
            0
        } else {
            u.choose_index(data.len() + 1)?
        };
        match u.int_in_range(0..=5)? {
            0 if at < data.len() => data[at] ^= 1 << u.int_in_range(0..=7)?,
            1 => data.insert(at, u.arbitrary()?),
            2 => {
                let t = u.choose(TOKENS)?;
                data.splice(at..at, t.iter().copied());
            }
            3 if at < data.len() => {
                let end = at + u.int_in_range(1..=(data.len() - at).min(64))?;
                data.drain(at..end);
            }
            4 if at < data.len() => {
                let end = at + u.int_in_range(1..=(data.len() - at).min(64))?;
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            5 if !seeds.is_empty() => {
                let other = u.choose(seeds)?;
                let from = u.choose_index(other.len() + 1)?;
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                let n = u.int_in_range(0..=8)?.min(u.len());
                data.extend_from_slice(u.bytes(n)?);
            }
        }
    }
    Ok(data)
}

fn cases() -> u32 {
    std::env::var("FUZZ_PROPS_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500)
}

/// The corpus, then `cases()` generated cases from fixed arbtest seeds.
fn check(target: &str) {
    let (_, run) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a target");
    let corpus = corpus(target);
    assert!(!corpus.is_empty(), "fuzz/corpus/{target}/ has no seeds");
    for input in &corpus {
        run(input);
    }
    for i in 0..cases() {
        // arbtest's seed: the RNG seed in the high half, the entropy's size in the low half.
        let seed = (u64::from(i.wrapping_mul(2_654_435_761)) << 32) | u64::from(64 + i % 1024);
        arbtest::arbtest(|u| {
            run(&mutate(u, &corpus)?);
            Ok(())
        })
        .seed(seed)
        .run();
    }
}

#[test]
fn fuzz_corpus_seeds_are_current_and_hold() {
    let update = std::env::var_os("UPDATE_FUZZ_CORPUS").is_some();
    for (target, name, bytes) in seeds::all() {
        let (_, run) = TARGETS.iter().find(|(n, _)| *n == target).unwrap();
        run(&bytes);
        if update {
            let dir = corpus_dir(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{name}")), &bytes).unwrap();
        }
    }
}

#[test]
fn authorization_headers_parse_and_never_authenticate_twice() {
    check("auth_header");
}

#[test]
fn presigned_queries_sigv4_and_sigv2_hold_their_invariants() {
    check("presigned_query");
}

#[test]
fn classified_requests_are_consistent_and_routed_alike() {
    check("request");
}

#[test]
fn chunked_bodies_never_release_more_than_declared_whatever_the_split() {
    check("chunked");
}

#[test]
fn complete_multipart_bodies_round_trip() {
    check("xml_complete");
}

#[test]
fn delete_objects_bodies_forward_what_was_parsed() {
    check("xml_delete");
}

#[test]
fn put_object_tagging_bodies_forward_what_was_parsed() {
    check("xml_tagging");
}

#[test]
fn object_lock_and_encryption_bodies_forward_what_was_parsed() {
    check("xml_settings");
}

#[test]
fn post_policies_parse_alike_and_check_without_panicking() {
    check("post_policy");
}

#[test]
fn post_forms_release_exactly_the_declared_file_whatever_the_split() {
    check("post_form");
}

#[test]
fn configs_parse_deterministically() {
    check("config");
}

#[test]
fn sealed_tokens_open_to_what_was_sealed() {
    check("sts_token");
}

#[test]
fn every_target_has_a_test_here() {
    let here = include_str!("props.rs");
    for (name, _) in TARGETS {
        assert!(here.contains(&format!("check(\"{name}\")")), "{name}");
    }
    let _ = harness::NOW;
}
