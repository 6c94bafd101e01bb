//! Typed reads of one configuration object's settings, the one reader the
//! resource, the provider block and the data source share. Each read names
//! its attribute: a problem found is a diagnostic on the attribute's path,
//! a value not known yet (plan time) is remembered by its path, and a value
//! left out, not known yet or refused by a declared validator (which
//! reports it) reads as the attribute's declared default.

use std::collections::BTreeMap;

use super::diagnostics::{AttributePath, Diagnostic, Diagnostics};
use super::schema::{Attribute, Block, Nesting};
use super::value::Value;

static NULL: Value = Value::Null;

/// What reading found besides the values: problems, and the paths of the
/// values that were not known yet.
#[derive(Debug, Default)]
pub struct Findings {
    pub diagnostics: Diagnostics,
    pub unknown: Vec<AttributePath>,
}

pub struct SettingsReader<'a> {
    value: &'a Value,
    /// The declaration of this object's attributes (defaults, ranges,
    /// allowed values); `None` reads without defaults.
    block: Option<&'a Block>,
    pub at: AttributePath,
    pub findings: &'a mut Findings,
}

impl<'a> SettingsReader<'a> {
    pub fn root(value: &'a Value, block: Option<&'a Block>, findings: &'a mut Findings) -> Self {
        SettingsReader { value, block, at: AttributePath::root(), findings }
    }

    pub fn path(&self, name: &str) -> AttributePath {
        self.at.then_attr(name)
    }

    /// An error on the attribute `name` of this object.
    pub fn fail(&mut self, name: &str, summary: &str, detail: String) {
        self.findings.diagnostics.push(Diagnostic::attribute_error(self.path(name), summary, detail));
    }

    /// An error on this object itself (a setting missing from it).
    pub fn fail_here(&mut self, summary: &str, detail: String) {
        self.findings.diagnostics.push(Diagnostic::attribute_error(self.at.clone(), summary, detail));
    }

    /// Whether `name` has its final value (set or null): checks that
    /// relate two settings wait until both are known.
    pub fn known(&self, name: &str) -> bool {
        self.value.get(name).is_wholly_known()
    }

    /// The value as configured, read without remembering it if unknown.
    pub fn peek(&self, name: &str) -> &'a Value {
        self.value.get(name)
    }

    /// Whether anything read so far was not known yet.
    pub fn any_unknown(&self) -> bool {
        !self.findings.unknown.is_empty()
    }

    fn declaration(&self, name: &str) -> Option<&'a Attribute> {
        self.block.and_then(|b| b.attribute(name))
    }

    /// The declared default of `name`.
    pub fn default_of(&self, name: &str) -> Option<&'a Value> {
        self.declaration(name).and_then(|a| a.default.as_ref())
    }

    /// The value as configured: `None` when null or not known yet (the
    /// unknown parts are remembered).
    pub fn raw(&mut self, name: &str) -> Option<&'a Value> {
        let v = self.value.get(name);
        if !v.is_wholly_known() {
            unknown_parts(v, self.path(name), &mut self.findings.unknown);
            return None;
        }
        if v.is_null() { None } else { Some(v) }
    }

    /// The configured value, or the declared default when left out (or
    /// not known yet: what is read then only serves checks that do not
    /// wait for it, and the reader's caller knows the read is incomplete).
    fn value_or_default(&mut self, name: &str) -> Option<&'a Value> {
        self.raw(name).or_else(|| self.default_of(name))
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        self.value_or_default(name).and_then(Value::as_str).map(str::to_string)
    }

    pub fn bool(&mut self, name: &str) -> bool {
        self.value_or_default(name).and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn number(&mut self, name: &str) -> Option<f64> {
        self.value_or_default(name).and_then(Value::as_number).map(|n| n.to_f64_lossy())
    }

    /// A whole number within the declared range; anything else (left
    /// out, refused) reads as the declared default.
    pub fn int(&mut self, name: &str) -> Option<i64> {
        let range = self.declaration(name).and_then(Attribute::whole_number_range);
        let default = self.default_of(name).and_then(Value::as_i64);
        match self.raw(name).map(Value::as_i64) {
            Some(Some(n)) if range.as_ref().is_none_or(|r| r.contains(&n)) => Some(n),
            _ => default,
        }
    }

    /// One of the declared allowed strings; anything else reads as the
    /// declared default.
    pub fn one_of(&mut self, name: &str) -> Option<String> {
        let allowed = self.declaration(name).and_then(Attribute::allowed);
        match self.string(name) {
            Some(s) if allowed.is_none_or(|a| a.contains(&s.as_str())) => Some(s),
            _ => self.default_of(name).and_then(Value::as_str).map(str::to_string),
        }
    }

    pub fn strings(&mut self, name: &str) -> Vec<String> {
        let v = self.value_or_default(name);
        v.map(|v| v.elements().iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn ints(&mut self, name: &str) -> Vec<i64> {
        let v = self.value_or_default(name);
        v.map(|v| v.elements().iter().filter_map(Value::as_i64).collect()).unwrap_or_default()
    }

    pub fn string_map(&mut self, name: &str) -> BTreeMap<String, String> {
        self.value_or_default(name)
            .and_then(Value::entries)
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
            .unwrap_or_default()
    }

    /// A nested block: the object of a single block, or the only element
    /// of a list block of at most one. `None` when left out or not known.
    pub fn block(&mut self, name: &str) -> Option<SettingsReader<'_>> {
        let v = self.value.get(name);
        if v.is_unknown() {
            self.findings.unknown.push(self.path(name));
            return None;
        }
        let nested = self.block.and_then(|b| b.nested(name));
        let (value, at) = match v {
            Value::List(items) => (items.first()?, self.path(name).then_index(0)),
            Value::Object(_) => (v, self.path(name)),
            _ => return None,
        };
        let at = match nested.map(|b| b.nesting) {
            Some(Nesting::Single) => self.path(name),
            _ => at,
        };
        Some(SettingsReader { value, block: nested.map(|b| &b.block), at, findings: self.findings })
    }

    /// A nested block, or when it is left out (or not known yet) the same
    /// block read as if empty: every setting reads as its declared default.
    pub fn block_or_defaults(&mut self, name: &str) -> SettingsReader<'_> {
        let v = self.value.get(name);
        if v.is_unknown() {
            self.findings.unknown.push(self.path(name));
        }
        let nested = self.block.and_then(|b| b.nested(name));
        let single = nested.is_some_and(|b| b.nesting == Nesting::Single);
        let (value, at) = match v {
            Value::List(items) if !items.is_empty() => (&items[0], self.path(name).then_index(0)),
            Value::Object(_) => (v, self.path(name)),
            _ if single => (&NULL, self.path(name)),
            _ => (&NULL, self.path(name).then_index(0)),
        };
        SettingsReader { value, block: nested.map(|b| &b.block), at, findings: self.findings }
    }

    /// A nested block read as if it were left out: every setting reads as
    /// its declared default.
    pub fn left_out(&mut self, name: &str) -> SettingsReader<'_> {
        let nested = self.block.and_then(|b| b.nested(name));
        SettingsReader {
            value: &NULL,
            block: nested.map(|b| &b.block),
            at: self.path(name),
            findings: self.findings,
        }
    }
}

/// The paths of the unknown parts of `value` (itself when it is unknown).
fn unknown_parts(value: &Value, at: AttributePath, out: &mut Vec<AttributePath>) {
    match value {
        Value::Unknown(_) => out.push(at),
        Value::List(items) | Value::Tuple(items) => {
            for (i, item) in items.iter().enumerate() {
                unknown_parts(item, at.then_index(i), out);
            }
        }
        // A set element has no index: the set's own path.
        Value::Set(items) if items.iter().any(|i| !i.is_wholly_known()) => out.push(at),
        Value::Map(entries) => {
            for (k, item) in entries {
                unknown_parts(item, at.then_key(k), out);
            }
        }
        Value::Object(attrs) => {
            for (k, item) in attrs {
                unknown_parts(item, at.then_attr(k), out);
            }
        }
        Value::Dynamic(_, inner) => unknown_parts(inner, at, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::schema::NestedBlock;
    use crate::tfplugin::types::Type;
    use crate::tfplugin::validators::Validator;

    fn declaration() -> Block {
        Block::new("")
            .attr(
                Attribute::optional("tries", Type::Number, "")
                    .validate(Validator::whole_number(1, 10))
                    .default(Value::int(3)),
            )
            .attr(
                Attribute::optional("mode", Type::String, "")
                    .validate(Validator::one_of(&["a", "b"]))
                    .default(Value::string("a")),
            )
            .attr(Attribute::optional("tags", Type::map(Type::String), ""))
            .block(NestedBlock::new(
                "stage",
                Nesting::List,
                Block::new("").attr(Attribute::optional("keep", Type::Bool, "").default(Value::Bool(true))),
            ))
    }

    #[test]
    fn reads_fall_back_to_the_declared_default() {
        let b = declaration();
        let config = Value::object([
            ("tries", Value::int(11)),
            ("mode", Value::Null),
            ("tags", Value::Map([("team".to_string(), Value::string("data"))].into())),
            ("stage", Value::List(vec![Value::object([("keep", Value::Bool(false))])])),
        ]);
        let mut findings = Findings::default();
        let mut r = SettingsReader::root(&config, Some(&b), &mut findings);
        assert_eq!(r.int("tries"), Some(3), "out of range: the default (its validator reports it)");
        assert_eq!(r.one_of("mode").as_deref(), Some("a"));
        assert_eq!(r.string_map("tags")["team"], "data");
        let mut stage = r.block("stage").unwrap();
        assert!(!stage.bool("keep"));
        assert_eq!(stage.path("keep").to_string(), "stage[0].keep");
        assert!(r.left_out("stage").bool("keep"));
        assert!(findings.diagnostics.is_empty() && findings.unknown.is_empty());
    }

    #[test]
    fn unknown_values_are_remembered_by_path_and_read_as_nothing() {
        let b = declaration();
        let config = Value::object([
            ("tries", Value::unknown()),
            ("tags", Value::Map([("team".to_string(), Value::unknown())].into())),
        ]);
        let mut findings = Findings::default();
        let mut r = SettingsReader::root(&config, Some(&b), &mut findings);
        assert_eq!(r.int("tries"), Some(3));
        assert!(r.string_map("tags").is_empty());
        r.fail("mode", "Invalid mode", "why".into());
        let unknown: Vec<String> = findings.unknown.iter().map(ToString::to_string).collect();
        assert_eq!(unknown, vec!["tries", "tags[\"team\"]"]);
        assert_eq!(findings.diagnostics.0[0].path.as_ref().map(ToString::to_string).as_deref(), Some("mode"));
    }
}
