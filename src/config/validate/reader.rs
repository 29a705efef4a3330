//! The reading toolkit: the report that collects problems and warnings with their paths, and
//! the object reader every section uses.

use super::*;

/// Problems and warnings collected while reading.
#[derive(Default)]
pub(super) struct Report {
    pub(super) problems: Vec<String>,
    pub(super) warnings: Vec<String>,
}

impl Report {
    pub(super) fn problem(&mut self, path: &str, msg: impl AsRef<str>) {
        self.problems.push(format!("{path}: {}", msg.as_ref()));
    }
    pub(super) fn warn(&mut self, path: &str, msg: impl AsRef<str>) {
        self.warnings.push(format!("{path}: {}", msg.as_ref()));
    }
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// One object being read, with its path.
pub(super) struct Obj<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) path: String,
}

impl<'a> Obj<'a> {
    pub(super) fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Present and not null.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(super) fn req_str(&self, key: &str, r: &mut Report) -> Option<String> {
        if self.get(key).is_none() {
            r.problem(&self.at(key), "missing");
            return None;
        }
        self.opt_str(key, r)
    }

    pub(super) fn opt_str(&self, key: &str, r: &mut Report) -> Option<String> {
        match self.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                r.problem(
                    &self.at(key),
                    format!("expected a string, found {}", type_name(v)),
                );
                None
            }
        }
    }

    pub(super) fn bool_or(&self, key: &str, default: bool, r: &mut Report) -> bool {
        match self.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if parse_bool(s).is_some() => parse_bool(s).unwrap_or(default),
            Some(v) => {
                r.problem(
                    &self.at(key),
                    format!("expected true or false, found {}", type_name(v)),
                );
                default
            }
        }
    }

    pub(super) fn opt_u64(&self, key: &str, r: &mut Report) -> Option<u64> {
        self.opt_number(key, "seconds", r)
    }

    /// A whole number of `unit`s (a number, or a string of digits).
    pub(super) fn opt_number(&self, key: &str, unit: &str, r: &mut Report) -> Option<u64> {
        match self.get(key) {
            None => None,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => s.trim().parse().ok(),
            Some(_) => {
                r.problem(&self.at(key), format!("expected a whole number of {unit}"));
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a one-element list when `one_ok`.
    pub(super) fn str_list(&self, key: &str, one_ok: bool, r: &mut Report) -> Vec<String> {
        self.str_list_from(key, self.get(key), one_ok, r)
    }

    pub(super) fn str_list_from(
        &self,
        key: &str,
        v: Option<&Value>,
        one_ok: bool,
        r: &mut Report,
    ) -> Vec<String> {
        match v {
            None => Vec::new(),
            Some(Value::String(s)) if one_ok => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        r.problem(
                            &format!("{}[{i}]", self.at(key)),
                            format!("expected a string, found {}", type_name(other)),
                        );
                        None
                    }
                })
                .collect(),
            Some(v) => {
                r.problem(
                    &self.at(key),
                    format!("expected a list of strings, found {}", type_name(v)),
                );
                Vec::new()
            }
        }
    }

    /// Elements of a list of tables, each with its path.
    pub(super) fn tables(&self, key: &str, r: &mut Report) -> Vec<Obj<'a>> {
        list_of_tables(self.get(key), &self.at(key), r)
    }

    pub(super) fn warn_unknown(&self, known: &[&str], r: &mut Report) {
        for k in self.map.keys() {
            if !known.contains(&k.as_str()) {
                r.warn(&self.at(k), "unknown key, ignored");
            }
        }
    }
}

pub(super) fn list_of_tables<'a>(v: Option<&'a Value>, path: &str, r: &mut Report) -> Vec<Obj<'a>> {
    match v {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let path = format!("{path}[{i}]");
                match v {
                    Value::Object(map) => Some(Obj { map, path }),
                    other => {
                        r.problem(
                            &path,
                            format!("expected a table, found {}", type_name(other)),
                        );
                        None
                    }
                }
            })
            .collect(),
        Some(other) => {
            r.problem(
                path,
                format!("expected a list of tables, found {}", type_name(other)),
            );
            Vec::new()
        }
    }
}
