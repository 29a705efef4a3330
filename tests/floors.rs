//! The floor map (issue 18): a module imports only from its own floor or below.
//!
//! This reads the shipped sources of the `multistore` crate (every module `src/lib.rs` reaches
//! through `mod` declarations, minus `#[cfg(test)]` items and the files they pull in), collects
//! each `crate::X` and `super::` path, resolves it to a top-level module and fails on any path that
//! runs up a floor, or on a top-level module that is not on the map (a new module is placed
//! deliberately, here). Comments, doc links and string literals are not code and are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A module may import from its own floor and the ones below.
const FLOORS: &[(&str, u8)] = &[
    // 1 ground: parsing, XML, errors, lock, limits and S3 wire helpers.
    ("percent", 1),
    ("time", 1),
    ("s3", 1),
    // 2
    ("auth", 2),
    ("policy", 2),
    ("cors", 2),
    // 3
    ("config", 3),
    ("pathmap", 3),
    // 4 body checks
    ("payload", 4),
    ("chunked", 4),
    ("checksum", 4),
    ("post", 4),
    // 5
    ("sts", 5),
    ("oidc", 5),
    // 6 what the gateway hands a runtime
    ("plan", 6),
    // 7 a folder per provider
    ("backend", 7),
    // 8 the pipeline
    ("gateway", 8),
    // 9 the sans-IO Session and Isolate both runtimes drive
    ("executor", 9),
    // 10 runtimes (native-shim/ is its own crate)
    ("worker", 10),
];

/// Test harnesses, exempt from the map.
const EXEMPT: &[&str] = &["fuzzing"];

/// Upward edges (importing module, imported module) known and scheduled for removal, each with
/// why it is still here; an entry that no longer occurs fails the test, so the list only shrinks.
const KNOWN: &[(&str, &str)] = &[];

#[test]
fn no_module_imports_from_a_floor_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let crate_src = CrateSources::read(&root);
    let mut problems = Vec::new();
    let mut seen_known = BTreeSet::new();
    for module in &crate_src.unknown_modules {
        problems.push(format!(
            "module `{module}` is not on the floor map: place it in FLOORS (tests/floors.rs)"
        ));
    }
    for file in &crate_src.files {
        for import in &file.imports {
            let target = crate_src.resolve_root_item(&import.target);
            match check_edge(&file.top, &target) {
                Edge::Fine => {}
                Edge::Upward { from, to } => {
                    if KNOWN.contains(&(file.top.as_str(), target.as_str())) {
                        seen_known.insert((file.top.clone(), target.clone()));
                        continue;
                    }
                    problems.push(format!(
                        "{} (floor {from}) imports crate::{target} (floor {to}) at line {}",
                        file.display, import.line
                    ));
                }
                Edge::Unplaced => problems.push(format!(
                    "{} imports crate::{target} at line {}, which is not a module on the floor map",
                    file.display, import.line
                )),
            }
        }
    }
    for (from, to) in KNOWN {
        if !seen_known.contains(&(from.to_string(), to.to_string())) {
            problems.push(format!(
                "KNOWN edge {from} -> {to} no longer occurs: remove it from KNOWN (tests/floors.rs)"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "floor map violations:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checker_catches_a_planted_upward_import() {
    let src = r#"
        //! Doc links are not imports: [`crate::gateway::Plan`].
        use crate::s3::error::S3Error;
        use crate::{percent, config::BucketConfig};
        use super::super::backend::Thing;
        /// [`crate::executor::Session`] in a doc comment is fine.
        fn f() -> Option<crate::plan::Plan> { let _ = "crate::gateway"; let c = 'c'; None }
        fn g<'a>(x: &'a str) -> &'a str { x }
        #[cfg(test)]
        mod tests {
            use crate::gateway::Gateway;
        }
        #[cfg(all(test, not(target_arch = "wasm32")))]
        fn helper() { crate::worker::x(); }
        mod inner {
            use super::super::super::time::Now;
        }
    "#;
    // The file src/policy/rules.rs: module policy::rules.
    let scan = scan_source(&["policy", "rules"], src);
    let targets: Vec<&str> = scan.imports.iter().map(|i| i.target.as_str()).collect();
    assert_eq!(
        targets,
        ["s3", "percent", "config", "backend", "plan", "time"]
    );
    assert_eq!(
        check_edge("policy", "config"),
        Edge::Upward { from: 2, to: 3 }
    );
    assert_eq!(check_edge("policy", "s3"), Edge::Fine);
    assert_eq!(check_edge("policy", "cors"), Edge::Fine);
    assert_eq!(check_edge("fuzzing", "worker"), Edge::Fine);
    assert_eq!(check_edge("s3", "nowhere"), Edge::Unplaced);
    assert!(scan.child_modules.is_empty());
}

#[test]
fn the_checker_follows_mod_declarations_but_not_test_ones() {
    let src = "pub mod a;\nmod b;\n#[cfg(test)]\nmod tests;\n#[cfg(target_arch = \"wasm32\")]\npub mod w;\nmod inline { mod deep; }\n";
    let scan = scan_source(&[], src);
    assert_eq!(
        scan.child_modules,
        [
            vec!["a".to_string()],
            vec!["b".to_string()],
            vec!["w".to_string()],
            vec!["inline".to_string(), "deep".to_string()]
        ]
    );
}

#[derive(Debug, PartialEq)]
enum Edge {
    Fine,
    Upward { from: u8, to: u8 },
    Unplaced,
}

fn floor_of(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

fn check_edge(from: &str, to: &str) -> Edge {
    if from == to || EXEMPT.contains(&from) {
        return Edge::Fine;
    }
    match (floor_of(from), floor_of(to)) {
        (_, None) => Edge::Unplaced,
        (None, Some(_)) => Edge::Fine, // reported once as an unknown module
        (Some(a), Some(b)) if b > a => Edge::Upward { from: a, to: b },
        _ => Edge::Fine,
    }
}

struct Import {
    /// The top-level module (or root item) the path names.
    target: String,
    line: usize,
}

struct SourceFile {
    display: String,
    top: String,
    imports: Vec<Import>,
}

struct CrateSources {
    files: Vec<SourceFile>,
    unknown_modules: BTreeSet<String>,
    /// Root items re-exported by lib.rs (`pub use gateway::Plan`): name -> module.
    root_items: BTreeMap<String, String>,
}

impl CrateSources {
    fn read(src: &Path) -> Self {
        let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read src/lib.rs");
        let root_items = root_reexports(&lex(&lib));
        let mut out = CrateSources {
            files: Vec::new(),
            unknown_modules: BTreeSet::new(),
            root_items,
        };
        let lib_scan = scan_source(&[], &lib);
        let mut queue: Vec<Vec<String>> = lib_scan.child_modules;
        while let Some(module) = queue.pop() {
            let top = module[0].clone();
            if floor_of(&top).is_none() && !EXEMPT.contains(&top.as_str()) {
                out.unknown_modules.insert(top.clone());
            }
            let path = module_file(src, &module);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let names: Vec<&str> = module.iter().map(String::as_str).collect();
            let scan = scan_source(&names, &text);
            // A child's path is relative to the crate root already.
            queue.extend(scan.child_modules);
            out.files.push(SourceFile {
                display: format!("src/{}", path.strip_prefix(src).unwrap_or(&path).display()),
                top,
                imports: scan.imports,
            });
        }
        out.files.sort_by(|a, b| a.display.cmp(&b.display));
        out
    }

    fn resolve_root_item(&self, name: &str) -> String {
        self.root_items
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }
}

/// `src/a/b.rs` or `src/a/b/mod.rs` for module `a::b`.
fn module_file(src: &Path, module: &[String]) -> PathBuf {
    let mut dir = src.to_path_buf();
    for part in &module[..module.len() - 1] {
        dir.push(part);
    }
    let last = &module[module.len() - 1];
    let flat = dir.join(format!("{last}.rs"));
    if flat.exists() {
        flat
    } else {
        dir.join(last).join("mod.rs")
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// Tokens with their line numbers; comments (doc comments too), strings and chars dropped.
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let bump_lines = |from: usize, to: usize, line: &mut usize| {
        *line += c[from..to.min(c.len())]
            .iter()
            .filter(|&&ch| ch == '\n')
            .count();
    };
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0);
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            bump_lines(start, i, &mut line);
        } else if ch == '"' || raw_string_start(&c, i).is_some() {
            let start = i;
            i = skip_string(&c, i);
            bump_lines(start, i, &mut line);
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch == ':' && next == Some(':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// `r"…"`, `r#"…"#`, `br"…"`: the number of `#`s, when a raw string starts at `i`.
fn raw_string_start(c: &[char], i: usize) -> Option<usize> {
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return None;
    }
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&ch| ch == '#').count();
    (c.get(j + hashes) == Some(&'"')).then_some(hashes)
}

/// The index just past the string literal starting at `i` (plain, byte or raw).
fn skip_string(c: &[char], i: usize) -> usize {
    if let Some(hashes) = raw_string_start(c, i) {
        let mut j = i;
        while c[j] != '"' {
            j += 1;
        }
        j += 1;
        while j < c.len() {
            if c[j] == '"' && c[j + 1..].iter().take_while(|&&ch| ch == '#').count() >= hashes {
                return j + 1 + hashes;
            }
            j += 1;
        }
        return j;
    }
    let mut j = i + 1;
    while j < c.len() && c[j] != '"' {
        if c[j] == '\\' {
            j += 1;
        }
        j += 1;
    }
    j + 1
}

/// lib.rs `pub use gateway::{Gateway, Plan};`: every name in the tree -> its first module.
fn root_reexports(toks: &[(Tok, usize)]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i].0 == Tok::Ident("use".into()) {
            if let Some((Tok::Ident(module), _)) = toks.get(i + 1) {
                let mut j = i + 2;
                while j < toks.len() && toks[j].0 != Tok::Punct(';') {
                    if let Tok::Ident(name) = &toks[j].0 {
                        map.insert(name.clone(), module.clone());
                    }
                    j += 1;
                }
                i = j;
            }
        }
        i += 1;
    }
    map
}

struct Scan {
    imports: Vec<Import>,
    /// `mod x;` declarations outside test code, as paths from the crate root.
    child_modules: Vec<Vec<String>>,
}

/// Scans one file whose module path (from the crate root) is `module`.
fn scan_source(module: &[&str], src: &str) -> Scan {
    let toks = lex(src);
    let mut scan = Scan {
        imports: Vec::new(),
        child_modules: Vec::new(),
    };
    let mut path: Vec<String> = module.iter().map(|s| s.to_string()).collect();
    // For each open `{`: the module path's length to restore at its `}` (an inline `mod` grows it).
    let mut braces: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some(open) = attribute_open(&toks, i) {
            let close = matching(&toks, open);
            if !is_test_only(&toks[open..close]) {
                i = close + 1;
            } else if open == i + 2 {
                // `#![cfg(test)]`: the whole file is test code.
                return Scan {
                    imports: Vec::new(),
                    child_modules: Vec::new(),
                };
            } else {
                i = skip_item(&toks, close + 1);
            }
            continue;
        }
        if let Some((targets, next)) = path_targets(&toks, i, &path) {
            let line = toks[i].1;
            scan.imports
                .extend(targets.into_iter().map(|target| Import { target, line }));
            i = next;
            continue;
        }
        match (&toks[i].0, toks.get(i + 1), toks.get(i + 2).map(|t| &t.0)) {
            (Tok::Ident(kw), Some((Tok::Ident(name), _)), Some(Tok::Punct(';'))) if kw == "mod" => {
                let mut child = path.clone();
                child.push(name.clone());
                scan.child_modules.push(child);
                i += 3;
                continue;
            }
            (Tok::Ident(kw), Some((Tok::Ident(name), _)), Some(Tok::Punct('{'))) if kw == "mod" => {
                braces.push(path.len());
                path.push(name.clone());
                i += 3;
                continue;
            }
            (Tok::Punct('{'), _, _) => braces.push(path.len()),
            (Tok::Punct('}'), _, _) => {
                let len = braces.pop().unwrap_or(path.len());
                path.truncate(len);
            }
            _ => {}
        }
        i += 1;
    }
    scan
}

/// A path starting at `i` with `crate::` or `super::` (not inside a longer path): the top-level
/// modules it names, and where scanning goes on.
fn path_targets(toks: &[(Tok, usize)], i: usize, path: &[String]) -> Option<(Vec<String>, usize)> {
    let head = |k: usize| match (toks.get(k), toks.get(k + 1)) {
        (Some((Tok::Ident(s), _)), Some((Tok::PathSep, _))) => Some(s.as_str()),
        _ => None,
    };
    if i > 0 && toks[i - 1].0 == Tok::PathSep {
        return None;
    }
    match head(i)? {
        "crate" => Some((first_segments(toks, i + 2), i + 2)),
        "super" => {
            let mut j = i;
            let mut up = 0;
            while head(j) == Some("super") {
                up += 1;
                j += 2;
            }
            let targets = match path.len().checked_sub(up) {
                Some(left) if left > 0 => vec![path[0].clone()],
                _ => first_segments(toks, j),
            };
            Some((targets, j))
        }
        _ => None,
    }
}

/// The first segment(s) of a path starting at `k`: `x` of `x::…`, or each tree's first name of
/// a group `{a::b, c}` (`self` in a group names the root and is skipped).
fn first_segments(toks: &[(Tok, usize)], k: usize) -> Vec<String> {
    match toks.get(k).map(|t| &t.0) {
        Some(Tok::Ident(name)) => vec![name.clone()],
        Some(Tok::Punct('{')) => {
            let end = matching(toks, k);
            let mut out = Vec::new();
            let mut depth = 0;
            let mut expect_first = true;
            for (tok, _) in &toks[k + 1..end] {
                match tok {
                    Tok::Punct('{') => depth += 1,
                    Tok::Punct('}') => depth -= 1,
                    Tok::Punct(',') if depth == 0 => {
                        expect_first = true;
                        continue;
                    }
                    Tok::Ident(name) if depth == 0 && expect_first && name != "self" => {
                        out.push(name.clone())
                    }
                    _ => {}
                }
                expect_first = false;
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Where the `[` of an attribute (`#[…]` or `#![…]`) starting at `k` is.
fn attribute_open(toks: &[(Tok, usize)], k: usize) -> Option<usize> {
    let at = |j: usize| toks.get(j).map(|t| &t.0);
    match (at(k), at(k + 1), at(k + 2)) {
        (Some(Tok::Punct('#')), Some(Tok::Punct('[')), _) => Some(k + 1),
        (Some(Tok::Punct('#')), Some(Tok::Punct('!')), Some(Tok::Punct('['))) => Some(k + 2),
        _ => None,
    }
}

/// `cfg(test)` or `cfg(all(test, …))`: code that only a test build sees.
fn is_test_only(attr: &[(Tok, usize)]) -> bool {
    let words: Vec<&str> = attr
        .iter()
        .filter_map(|(t, _)| match t {
            Tok::Ident(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    matches!(
        words.as_slice(),
        ["cfg", "test"] | ["cfg", "all", "test", ..]
    )
}

/// The index of the bracket closing the one that opens at `open`.
fn matching(toks: &[(Tok, usize)], open: usize) -> usize {
    let mut depth = 0;
    for (k, (tok, _)) in toks.iter().enumerate().skip(open) {
        match tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    toks.len() - 1
}

/// The index just past the item starting at `k` (its attributes included): up to a `;` outside
/// brackets or through its `{ … }` body.
fn skip_item(toks: &[(Tok, usize)], mut k: usize) -> usize {
    while k < toks.len() {
        match toks[k].0 {
            Tok::Punct(';') => return k + 1,
            Tok::Punct('{') => return matching(toks, k) + 1,
            Tok::Punct('(' | '[') => k = matching(toks, k) + 1,
            _ => k += 1,
        }
    }
    k
}
