//! A [`RuleSet`] compiled into per-field checks. Checks run in a fixed,
//! documented order per field (missing -> required, type/format, enum,
//! minLength, maxLength, minimum, maximum, pattern); the first failure is
//! the record's reject reason. Uniqueness (`unique`, `primaryKey`) is
//! checked last, only for records that passed every field check.

use std::collections::HashSet;

use serde_json::Value;

use super::pattern::Pattern;
use super::schema::FieldDescriptor;
use super::values::{DateTimeFormat, Typed, parse_int, parse_number};

/// Why a field failed: a stable rule name and a human message.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The Table Schema rule (`required`, `type`, `enum`, `minLength`, ...).
    pub rule: &'static str,
    /// What was wrong, naming the value.
    pub message: String,
}

/// How values of a field are parsed.
#[derive(Debug, Clone)]
pub(super) enum FieldType {
    String,
    Any,
    Integer,
    /// A calendar year: exactly four digits (XML Schema gYear's usual form,
    /// as frictionless reads it).
    Year,
    Number,
    Boolean {
        truthy: Vec<Vec<u8>>,
        falsy: Vec<Vec<u8>>,
    },
    Temporal {
        kind: &'static str,
        format: DateTimeFormat,
    },
}

impl FieldType {
    fn name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Any => "any",
            FieldType::Integer => "integer",
            FieldType::Year => "year",
            FieldType::Number => "number",
            FieldType::Boolean { .. } => "boolean",
            FieldType::Temporal { kind, .. } => kind,
        }
    }

    /// Whether `v` is a valid value of the type, without building the
    /// typed value (calendar arithmetic is skipped for dates).
    #[inline]
    fn is_valid(&self, v: &[u8]) -> bool {
        match self {
            FieldType::Temporal { format, .. } => format.is_valid(v),
            _ => self.parse(v).is_some(),
        }
    }

    /// Parses a raw value; `None` = type error.
    #[inline]
    fn parse(&self, v: &[u8]) -> Option<Typed> {
        match self {
            FieldType::String | FieldType::Any => Some(Typed::Raw),
            FieldType::Integer => parse_int(v).map(Typed::Int),
            FieldType::Year => {
                (v.len() == 4 && v.iter().all(u8::is_ascii_digit)).then(|| parse_int(v).map(Typed::Int))?
            }
            FieldType::Number => parse_number(v).map(Typed::Num),
            FieldType::Boolean { truthy, falsy } => {
                if truthy.iter().any(|t| t == v) {
                    Some(Typed::Bool(true))
                } else if falsy.iter().any(|f| f == v) {
                    Some(Typed::Bool(false))
                } else {
                    None
                }
            }
            FieldType::Temporal { format, .. } => format.parse(v).map(Typed::Ordinal),
        }
    }
}

/// An `enum` constraint. Short strings (<= 7 bytes) are packed into u64
/// keys in an open-addressing table: one multiply and usually one probe.
#[derive(Debug, Clone)]
pub(super) enum EnumSet {
    Packed { table: Vec<u64>, shift: u32 },
    Bytes(HashSet<Vec<u8>>),
    Typed(Vec<Typed>),
}

#[inline]
pub(super) fn pack(v: &[u8]) -> Option<u64> {
    // Built from registers, not through a stack copy: a memcpy followed by
    // a wide load stalls on store forwarding, and this runs per field.
    let bytes = match *v {
        [] => 0,
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_le_bytes([a, b])),
        [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ if v.len() <= 7 => v.iter().enumerate().fold(0u64, |k, (i, &b)| k | (u64::from(b) << (8 * i))),
        _ => return None,
    };
    // Length + 1 in the top byte: never zero, so 0 marks an empty slot.
    Some(bytes | ((v.len() as u64 + 1) << 56))
}

#[inline(always)]
pub(super) fn slot(key: u64, shift: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

impl EnumSet {
    fn strings(values: Vec<Vec<u8>>) -> Self {
        let keys: Option<Vec<u64>> = values.iter().map(|v| pack(v)).collect();
        match keys {
            Some(keys) => {
                let size = (keys.len() * 4).next_power_of_two().max(16);
                let shift = 64 - size.trailing_zeros();
                let mut table = vec![0u64; size];
                for k in keys {
                    let mut s = slot(k, shift);
                    while table[s] != 0 && table[s] != k {
                        s = (s + 1) & (size - 1);
                    }
                    table[s] = k;
                }
                EnumSet::Packed { table, shift }
            }
            None => EnumSet::Bytes(values.into_iter().collect()),
        }
    }

    /// Whether a key made by [`pack`] is in a `Packed` set.
    #[inline(always)]
    pub(super) fn contains_packed(table: &[u64], shift: u32, k: u64) -> bool {
        let mask = table.len() - 1;
        let mut s = slot(k, shift);
        loop {
            let e = table[s];
            if e == k {
                return true;
            }
            if e == 0 {
                return false;
            }
            s = (s + 1) & mask;
        }
    }

    #[inline]
    fn contains(&self, raw: &[u8], typed: Typed) -> bool {
        match self {
            EnumSet::Packed { table, shift } => {
                let Some(k) = pack(raw) else { return false };
                Self::contains_packed(table, *shift, k)
            }
            EnumSet::Bytes(set) => set.contains(raw),
            EnumSet::Typed(values) => values.contains(&typed),
        }
    }
}

/// One compiled field.
#[derive(Debug, Clone)]
pub struct FieldRule {
    /// The field name.
    pub name: String,
    pub(super) field_type: FieldType,
    pub(super) required: bool,
    /// `unique` constraint.
    pub unique: bool,
    pub(super) min_length: Option<u64>,
    pub(super) max_length: Option<u64>,
    pub(super) minimum: Option<(Typed, String)>,
    pub(super) maximum: Option<(Typed, String)>,
    pub(super) pattern: Option<Pattern>,
    pub(super) enum_set: Option<EnumSet>,
    /// The only missing value is "" (the common case, checked by length).
    pub(super) missing_is_empty_only: bool,
    missing_values: Vec<Vec<u8>>,
    /// A typed value is compared (minimum, maximum, typed enum).
    needs_typed: bool,
}

/// Shortens a value for messages (lossy UTF-8, at most 64 characters).
pub fn show(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    if s.chars().count() > 64 {
        let mut t: String = s.chars().take(64).collect();
        t.push('…');
        t
    } else {
        s.into_owned()
    }
}

fn violation(rule: &'static str, message: String) -> Violation {
    Violation { rule, message }
}

impl FieldRule {
    /// True when `v` is one of the schema's missing values.
    #[inline]
    pub fn is_missing(&self, v: &[u8]) -> bool {
        if self.missing_is_empty_only { v.is_empty() } else { self.missing_values.iter().any(|m| m == v) }
    }

    /// Checks one raw value. `ascii` tells that `v` has no byte >= 0x80
    /// (then length in characters = length in bytes).
    #[inline]
    pub fn check(&self, v: &[u8], ascii: bool) -> Result<(), Violation> {
        if self.is_missing(v) {
            if self.required {
                return Err(violation("required", "value is required".into()));
            }
            return Ok(());
        }
        let parsed = if self.needs_typed {
            self.field_type.parse(v)
        } else {
            self.field_type.is_valid(v).then_some(Typed::Raw)
        };
        let typed = match parsed {
            Some(t) => t,
            None => {
                let msg = match &self.field_type {
                    FieldType::Temporal { kind, format } => {
                        format!("{:?} is not a valid {kind} in format {}", show(v), format.source())
                    }
                    t => format!("{:?} is not a valid {}", show(v), t.name()),
                };
                return Err(violation("type", msg));
            }
        };
        if let Some(set) = &self.enum_set
            && !set.contains(v, typed)
        {
            return Err(violation("enum", format!("{:?} is not one of the allowed values", show(v))));
        }
        if self.min_length.is_some() || self.max_length.is_some() {
            let len = if ascii { v.len() as u64 } else { String::from_utf8_lossy(v).chars().count() as u64 };
            if let Some(min) = self.min_length
                && len < min
            {
                return Err(violation("minLength", format!("length {len} is below minLength {min}")));
            }
            if let Some(max) = self.max_length
                && len > max
            {
                return Err(violation("maxLength", format!("length {len} exceeds maxLength {max}")));
            }
        }
        if let Some((min, text)) = &self.minimum
            && typed.partial_cmp(min) == Some(std::cmp::Ordering::Less)
        {
            return Err(violation("minimum", format!("{:?} is below minimum {text}", show(v))));
        }
        if let Some((max, text)) = &self.maximum
            && typed.partial_cmp(max) == Some(std::cmp::Ordering::Greater)
        {
            return Err(violation("maximum", format!("{:?} exceeds maximum {text}", show(v))));
        }
        if let Some(p) = &self.pattern
            && !p.matches(v, ascii)
        {
            return Err(violation("pattern", format!("{:?} does not match pattern {}", show(v), p.source())));
        }
        Ok(())
    }
}

pub(super) fn compile_field(f: &FieldDescriptor, missing: &[Vec<u8>]) -> Result<FieldRule, String> {
    let temporal = |kind: &'static str, default: &str| -> Result<FieldType, String> {
        let fmt = if f.format == "default" { default } else { &f.format };
        Ok(FieldType::Temporal { kind, format: DateTimeFormat::compile(fmt)? })
    };
    let field_type = match f.field_type.as_str() {
        "string" => FieldType::String,
        "any" => FieldType::Any,
        "integer" => FieldType::Integer,
        "year" => FieldType::Year,
        "number" => FieldType::Number,
        "boolean" => FieldType::Boolean {
            truthy: to_bytes(f.true_values.clone(), &["true", "True", "TRUE", "1"]),
            falsy: to_bytes(f.false_values.clone(), &["false", "False", "FALSE", "0"]),
        },
        "date" => temporal("date", "%Y-%m-%d")?,
        "time" => temporal("time", "%H:%M:%S")?,
        "datetime" => temporal("datetime", "%Y-%m-%dT%H:%M:%SZ")?,
        other => return Err(format!("type {other:?} is not supported")),
    };
    if matches!(field_type, FieldType::String | FieldType::Any) && f.format != "default" {
        // email/uri/uuid formats would need checks we do not ship; refusing
        // is better than silently accepting everything.
        return Err(format!("string format {:?} is not supported", f.format));
    }
    let c = &f.constraints;
    let bound = |v: &Option<Value>, what: &str| -> Result<Option<(Typed, String)>, String> {
        match v {
            None => Ok(None),
            Some(v) => {
                let typed = typed_constant(&field_type, v)
                    .ok_or_else(|| format!("{what} {v} is not a valid {}", field_type.name()))?;
                if matches!(typed, Typed::Raw | Typed::Bool(_)) {
                    return Err(format!("{what} is not supported for type {}", field_type.name()));
                }
                Ok(Some((typed, constant_text(v))))
            }
        }
    };
    let minimum = bound(&c.minimum, "minimum")?;
    let maximum = bound(&c.maximum, "maximum")?;
    let pattern = c.pattern.as_deref().map(Pattern::compile).transpose()?;
    let enum_set = match &c.enum_values {
        None => None,
        Some(values) => Some(match field_type {
            FieldType::String | FieldType::Any => {
                EnumSet::strings(values.iter().map(|v| constant_text(v).into_bytes()).collect())
            }
            _ => EnumSet::Typed(
                values
                    .iter()
                    .map(|v| {
                        typed_constant(&field_type, v)
                            .ok_or_else(|| format!("enum value {v} is not a valid {}", field_type.name()))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        }),
    };
    let needs_typed =
        c.minimum.is_some() || c.maximum.is_some() || matches!(enum_set, Some(EnumSet::Typed(_)));
    Ok(FieldRule {
        needs_typed,
        name: f.name.clone(),
        field_type,
        required: c.required,
        unique: c.unique,
        min_length: c.min_length,
        max_length: c.max_length,
        minimum,
        maximum,
        pattern,
        enum_set,
        missing_is_empty_only: missing.len() == 1 && missing[0].is_empty(),
        missing_values: missing.to_vec(),
    })
}

fn to_bytes(values: Option<Vec<String>>, default: &[&str]) -> Vec<Vec<u8>> {
    match values {
        Some(v) => v.into_iter().map(String::into_bytes).collect(),
        None => default.iter().map(|s| s.as_bytes().to_vec()).collect(),
    }
}

/// A JSON constant as the raw text a CSV cell would hold.
fn constant_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn typed_constant(t: &FieldType, v: &Value) -> Option<Typed> {
    t.parse(constant_text(v).as_bytes())
}
