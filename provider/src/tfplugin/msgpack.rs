//! The msgpack encoding of cty values that Terraform uses for DynamicValue.
//!
//! Type-directed, as in cty: the schema's type says how to read each value.
//! Rules that matter for compatibility:
//! - null is msgpack nil, whatever the type;
//! - unknown is extension 0 (one zero byte); Terraform may send refined
//!   unknowns as other extension codes, and every extension decodes as
//!   unknown, its bytes kept;
//! - numbers go out as int/uint when integral and in range, as float64 when
//!   exact, otherwise as a decimal string; all of these are read back;
//! - a `dynamic` value is a two-element array: its type's JSON, then the value;
//! - object attributes are written in name order, every attribute present.

use std::collections::BTreeMap;

use rmp::Marker;

use super::diagnostics::{AttributePath, PathStep};
use super::number::Number;
use super::types::Type;
use super::value::{Unknown, Value};

/// Why a msgpack value could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if path.0.is_empty() { String::new() } else { format!(" at {path}") })]
pub struct DecodeError {
    pub path: AttributePath,
    pub message: String,
}

/// Why a value could not be encoded (it does not conform to the type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if path.0.is_empty() { String::new() } else { format!(" at {path}") })]
pub struct EncodeError {
    pub path: AttributePath,
    pub message: String,
}

/// Nesting deeper than any schema of ours; stops hostile input from
/// exhausting the stack.
const MAX_DEPTH: usize = 64;

// ---------------------------------------------------------------- encoding

pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(256);
    encode_into(&mut out, value, ty, &AttributePath::root())?;
    Ok(out)
}

fn encode_err(path: &AttributePath, message: impl Into<String>) -> EncodeError {
    EncodeError { path: path.clone(), message: message.into() }
}

fn encode_into(out: &mut Vec<u8>, value: &Value, ty: &Type, path: &AttributePath) -> Result<(), EncodeError> {
    // Writes into a Vec cannot fail; the results of rmp's writers are io results.
    if let Type::Dynamic = ty {
        return match value {
            Value::Null => {
                out.push(0xc0);
                Ok(())
            }
            Value::Unknown(u) => {
                write_unknown(out, u);
                Ok(())
            }
            Value::Dynamic(inner_ty, inner) => {
                let _ = rmp::encode::write_array_len(out, 2);
                let _ = rmp::encode::write_bin(out, &inner_ty.to_json_bytes());
                encode_into(out, inner, inner_ty, path)
            }
            _ => Err(encode_err(path, "a dynamic attribute needs a value with its type")),
        };
    }
    match value {
        Value::Null => {
            out.push(0xc0);
            Ok(())
        }
        Value::Unknown(u) => {
            write_unknown(out, u);
            Ok(())
        }
        Value::String(s) => match ty {
            Type::String => {
                let _ = rmp::encode::write_str(out, s);
                Ok(())
            }
            _ => Err(mismatch(path, ty, "string")),
        },
        Value::Number(n) => match ty {
            Type::Number => {
                write_number(out, n);
                Ok(())
            }
            _ => Err(mismatch(path, ty, "number")),
        },
        Value::Bool(b) => match ty {
            Type::Bool => {
                let _ = rmp::encode::write_bool(out, *b);
                Ok(())
            }
            _ => Err(mismatch(path, ty, "bool")),
        },
        Value::List(items) | Value::Set(items) => {
            let elem_ty = match (ty, value) {
                (Type::List(t), Value::List(_)) | (Type::Set(t), Value::Set(_)) => t,
                _ => return Err(mismatch(path, ty, "collection")),
            };
            let _ = rmp::encode::write_array_len(out, items.len() as u32);
            for (i, item) in items.iter().enumerate() {
                encode_into(out, item, elem_ty, &path.then_index(i))?;
            }
            Ok(())
        }
        Value::Tuple(items) => {
            let Type::Tuple(types) = ty else { return Err(mismatch(path, ty, "tuple")) };
            if types.len() != items.len() {
                return Err(encode_err(
                    path,
                    format!("tuple needs {} elements, has {}", types.len(), items.len()),
                ));
            }
            let _ = rmp::encode::write_array_len(out, items.len() as u32);
            for (i, (item, t)) in items.iter().zip(types).enumerate() {
                encode_into(out, item, t, &path.then_index(i))?;
            }
            Ok(())
        }
        Value::Map(entries) => {
            let Type::Map(elem_ty) = ty else { return Err(mismatch(path, ty, "map")) };
            let _ = rmp::encode::write_map_len(out, entries.len() as u32);
            for (k, v) in entries {
                let _ = rmp::encode::write_str(out, k);
                encode_into(out, v, elem_ty, &path.then_key(k))?;
            }
            Ok(())
        }
        Value::Object(attrs) => {
            let Type::Object(attr_types) = ty else { return Err(mismatch(path, ty, "object")) };
            if let Some(extra) = attrs.keys().find(|k| !attr_types.contains_key(*k)) {
                return Err(encode_err(path, format!("unsupported attribute {extra:?}")));
            }
            let _ = rmp::encode::write_map_len(out, attr_types.len() as u32);
            for (name, t) in attr_types {
                let _ = rmp::encode::write_str(out, name);
                let v = attrs.get(name).unwrap_or(&Value::Null);
                encode_into(out, v, t, &path.then_attr(name))?;
            }
            Ok(())
        }
        Value::Dynamic(_, _) => Err(mismatch(path, ty, "dynamic value")),
    }
}

fn mismatch(path: &AttributePath, want: &Type, got: &str) -> EncodeError {
    encode_err(path, format!("expected {}, got {got}", want.friendly_name()))
}

fn write_unknown(out: &mut Vec<u8>, u: &Unknown) {
    match &u.refinement {
        Some((code, payload)) => {
            let _ = rmp::encode::write_ext_meta(out, payload.len() as u32, *code);
            out.extend_from_slice(payload);
        }
        None => {
            let _ = rmp::encode::write_ext_meta(out, 1, 0);
            out.push(0);
        }
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(i) = n.to_i64() {
        let _ = rmp::encode::write_sint(out, i);
    } else if let Some(u) = n.to_u64() {
        let _ = rmp::encode::write_uint(out, u);
    } else if let Some(f) = n.to_f64_exact() {
        let _ = rmp::encode::write_f64(out, f);
    } else {
        let _ = rmp::encode::write_str(out, n.as_str());
    }
}

// ---------------------------------------------------------------- decoding

pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let mut reader = Reader { bytes, pos: 0 };
    let value = reader.value(ty, &AttributePath::root(), 0)?;
    if reader.pos != bytes.len() {
        return Err(DecodeError {
            path: AttributePath::root(),
            message: format!("{} trailing bytes after the value", bytes.len() - reader.pos),
        });
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// What a marker introduces, with lengths already read.
enum Item<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

impl<'a> Reader<'a> {
    fn err(&self, path: &AttributePath, message: impl Into<String>) -> DecodeError {
        DecodeError { path: path.clone(), message: message.into() }
    }

    fn take(&mut self, n: usize, path: &AttributePath) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(self.err(path, "unexpected end of msgpack data")),
        }
    }

    fn be<const N: usize>(&mut self, path: &AttributePath) -> Result<[u8; N], DecodeError> {
        let mut buf = [0u8; N];
        buf.copy_from_slice(self.take(N, path)?);
        Ok(buf)
    }

    fn len(&mut self, width: usize, path: &AttributePath) -> Result<usize, DecodeError> {
        Ok(match width {
            1 => self.be::<1>(path)?[0] as usize,
            2 => u16::from_be_bytes(self.be(path)?) as usize,
            _ => u32::from_be_bytes(self.be(path)?) as usize,
        })
    }

    fn item(&mut self, path: &AttributePath) -> Result<Item<'a>, DecodeError> {
        let byte = self.take(1, path)?[0];
        Ok(match Marker::from_u8(byte) {
            Marker::Null => Item::Nil,
            Marker::True => Item::Bool(true),
            Marker::False => Item::Bool(false),
            Marker::FixPos(n) => Item::Int(i64::from(n)),
            Marker::FixNeg(n) => Item::Int(i64::from(n)),
            Marker::U8 => Item::Uint(u64::from(self.be::<1>(path)?[0])),
            Marker::U16 => Item::Uint(u64::from(u16::from_be_bytes(self.be(path)?))),
            Marker::U32 => Item::Uint(u64::from(u32::from_be_bytes(self.be(path)?))),
            Marker::U64 => Item::Uint(u64::from_be_bytes(self.be(path)?)),
            Marker::I8 => Item::Int(i64::from(i8::from_be_bytes(self.be(path)?))),
            Marker::I16 => Item::Int(i64::from(i16::from_be_bytes(self.be(path)?))),
            Marker::I32 => Item::Int(i64::from(i32::from_be_bytes(self.be(path)?))),
            Marker::I64 => Item::Int(i64::from_be_bytes(self.be(path)?)),
            Marker::F32 => Item::Float(f64::from(f32::from_be_bytes(self.be(path)?))),
            Marker::F64 => Item::Float(f64::from_be_bytes(self.be(path)?)),
            Marker::FixStr(n) => Item::Str(self.take(n as usize, path)?),
            Marker::Str8 => {
                let n = self.len(1, path)?;
                Item::Str(self.take(n, path)?)
            }
            Marker::Str16 => {
                let n = self.len(2, path)?;
                Item::Str(self.take(n, path)?)
            }
            Marker::Str32 => {
                let n = self.len(4, path)?;
                Item::Str(self.take(n, path)?)
            }
            Marker::Bin8 => {
                let n = self.len(1, path)?;
                Item::Bin(self.take(n, path)?)
            }
            Marker::Bin16 => {
                let n = self.len(2, path)?;
                Item::Bin(self.take(n, path)?)
            }
            Marker::Bin32 => {
                let n = self.len(4, path)?;
                Item::Bin(self.take(n, path)?)
            }
            Marker::FixArray(n) => Item::Array(n as usize),
            Marker::Array16 => Item::Array(self.len(2, path)?),
            Marker::Array32 => Item::Array(self.len(4, path)?),
            Marker::FixMap(n) => Item::Map(n as usize),
            Marker::Map16 => Item::Map(self.len(2, path)?),
            Marker::Map32 => Item::Map(self.len(4, path)?),
            Marker::FixExt1 => self.ext(1, path)?,
            Marker::FixExt2 => self.ext(2, path)?,
            Marker::FixExt4 => self.ext(4, path)?,
            Marker::FixExt8 => self.ext(8, path)?,
            Marker::FixExt16 => self.ext(16, path)?,
            Marker::Ext8 => {
                let n = self.len(1, path)?;
                self.ext(n, path)?
            }
            Marker::Ext16 => {
                let n = self.len(2, path)?;
                self.ext(n, path)?
            }
            Marker::Ext32 => {
                let n = self.len(4, path)?;
                self.ext(n, path)?
            }
            Marker::Reserved => return Err(self.err(path, "reserved msgpack marker 0xc1")),
        })
    }

    fn ext(&mut self, len: usize, path: &AttributePath) -> Result<Item<'a>, DecodeError> {
        let code = i8::from_be_bytes(self.be(path)?);
        Ok(Item::Ext(code, self.take(len, path)?))
    }

    /// A collection claims more elements than bytes remain: reject before
    /// allocating for it (each element takes at least one byte).
    fn check_count(&self, n: usize, per_item: usize, path: &AttributePath) -> Result<(), DecodeError> {
        let remaining = self.bytes.len() - self.pos;
        if n.saturating_mul(per_item) > remaining {
            return Err(
                self.err(path, format!("collection of {n} elements does not fit in {remaining} bytes"))
            );
        }
        Ok(())
    }

    fn value(&mut self, ty: &Type, path: &AttributePath, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err(path, "value nested too deeply"));
        }
        let item = self.item(path)?;
        match item {
            Item::Nil => return Ok(Value::Null),
            Item::Ext(code, payload) => {
                // Extension 0 with its single zero byte is the plain unknown;
                // anything else is a refined unknown, kept as received.
                let refinement = if code == 0 { None } else { Some((code, payload.to_vec())) };
                return Ok(Value::Unknown(Unknown { refinement }));
            }
            _ => {}
        }
        match ty {
            Type::Dynamic => {
                let Item::Array(2) = item else {
                    return Err(self.err(path, "a dynamic value must be a [type, value] pair"));
                };
                let type_json = match self.item(path)? {
                    Item::Str(b) | Item::Bin(b) => b,
                    _ => return Err(self.err(path, "a dynamic value's type must be JSON bytes")),
                };
                let inner_ty = Type::from_json_bytes(type_json).map_err(|e| self.err(path, e.to_string()))?;
                let inner = self.value(&inner_ty, path, depth + 1)?;
                Ok(Value::Dynamic(inner_ty, Box::new(inner)))
            }
            Type::String => match item {
                Item::Str(b) | Item::Bin(b) => std::str::from_utf8(b)
                    .map(|s| Value::String(s.to_string()))
                    .map_err(|_| self.err(path, "string is not valid UTF-8")),
                _ => Err(self.err(path, "expected a string")),
            },
            Type::Number => match item {
                Item::Int(i) => Ok(Value::Number(Number::from_i64(i))),
                Item::Uint(u) => Ok(Value::Number(Number::from_u64(u))),
                Item::Float(f) => Number::from_f64(f)
                    .map(Value::Number)
                    .map_err(|_| self.err(path, "number must be finite")),
                Item::Str(b) => std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| Number::parse(s).ok())
                    .map(Value::Number)
                    .ok_or_else(|| self.err(path, "expected a number")),
                _ => Err(self.err(path, "expected a number")),
            },
            Type::Bool => match item {
                Item::Bool(b) => Ok(Value::Bool(b)),
                _ => Err(self.err(path, "expected a bool")),
            },
            Type::List(elem) | Type::Set(elem) => {
                let Item::Array(n) = item else {
                    return Err(self.err(path, format!("expected a {}", ty.friendly_name())));
                };
                self.check_count(n, 1, path)?;
                let mut items = Vec::with_capacity(n);
                for i in 0..n {
                    items.push(self.value(elem, &path.then_index(i), depth + 1)?);
                }
                Ok(if matches!(ty, Type::List(_)) { Value::List(items) } else { Value::Set(items) })
            }
            Type::Tuple(types) => {
                let Item::Array(n) = item else { return Err(self.err(path, "expected a tuple")) };
                if n != types.len() {
                    return Err(self.err(path, format!("tuple needs {} elements, has {n}", types.len())));
                }
                let mut items = Vec::with_capacity(n);
                for (i, t) in types.iter().enumerate() {
                    items.push(self.value(t, &path.then_index(i), depth + 1)?);
                }
                Ok(Value::Tuple(items))
            }
            Type::Map(elem) => {
                let Item::Map(n) = item else { return Err(self.err(path, "expected a map")) };
                self.check_count(n, 2, path)?;
                let mut entries = BTreeMap::new();
                for _ in 0..n {
                    let key = self.key(path)?;
                    let v = self.value(elem, &path.then_key(&key), depth + 1)?;
                    if entries.insert(key.clone(), v).is_some() {
                        return Err(self.err(path, format!("duplicate map key {key:?}")));
                    }
                }
                Ok(Value::Map(entries))
            }
            Type::Object(attr_types) => {
                let Item::Map(n) = item else { return Err(self.err(path, "expected an object")) };
                self.check_count(n, 2, path)?;
                let mut attrs = BTreeMap::new();
                for _ in 0..n {
                    let name = self.key(path)?;
                    let Some(t) = attr_types.get(&name) else {
                        return Err(self.err(path, format!("unsupported attribute {name:?}")));
                    };
                    let v = self.value(t, &path.then_attr(&name), depth + 1)?;
                    if attrs.insert(name.clone(), v).is_some() {
                        return Err(self.err(path, format!("duplicate attribute {name:?}")));
                    }
                }
                // Absent attributes are null, as cty treats them.
                for name in attr_types.keys() {
                    attrs.entry(name.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(attrs))
            }
        }
    }

    fn key(&mut self, path: &AttributePath) -> Result<String, DecodeError> {
        match self.item(path)? {
            Item::Str(b) | Item::Bin(b) => std::str::from_utf8(b)
                .map(str::to_string)
                .map_err(|_| self.err(path, "key is not valid UTF-8")),
            _ => Err(self.err(path, "map keys must be strings")),
        }
    }
}

/// The attribute path of a decode error, trimmed to attribute steps only
/// (what a diagnostic can point at in configuration).
pub fn error_path(err: &DecodeError) -> AttributePath {
    AttributePath(err.path.0.iter().take_while(|s| matches!(s, PathStep::Attr(_))).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value, t: &Type) -> Value {
        let bytes = encode(v, t).expect("encode");
        decode(&bytes, t).expect("decode")
    }

    fn every_type() -> Type {
        Type::object([
            ("s", Type::String),
            ("n", Type::Number),
            ("b", Type::Bool),
            ("l", Type::list(Type::String)),
            ("set", Type::set(Type::Number)),
            ("m", Type::map(Type::Bool)),
            ("o", Type::object([("inner", Type::list(Type::object([("x", Type::Number)])))])),
            ("t", Type::Tuple(vec![Type::String, Type::Number])),
            ("d", Type::Dynamic),
        ])
    }

    #[test]
    fn every_type_round_trips_nested() {
        let t = every_type();
        let v = Value::object([
            ("s", Value::string("héllo")),
            ("n", Value::Number(Number::parse("-12345678901234567890.125").unwrap())),
            ("b", Value::Bool(true)),
            ("l", Value::List(vec![Value::string("a"), Value::Null, Value::unknown()])),
            ("set", Value::Set(vec![Value::int(1), Value::int(2)])),
            ("m", Value::Map([("k".to_string(), Value::Bool(false))].into())),
            (
                "o",
                Value::object([(
                    "inner",
                    Value::List(vec![Value::object([("x", Value::Number(Number::from_f64(0.5).unwrap()))])]),
                )]),
            ),
            ("t", Value::Tuple(vec![Value::string("x"), Value::int(-7)])),
            ("d", Value::Dynamic(Type::list(Type::Bool), Box::new(Value::List(vec![Value::Bool(true)])))),
        ]);
        assert_eq!(round_trip(&v, &t), v);
    }

    #[test]
    fn nulls_and_unknowns_round_trip_at_every_level() {
        let t = every_type();
        assert_eq!(round_trip(&Value::Null, &t), Value::Null);
        assert_eq!(round_trip(&Value::unknown(), &t), Value::unknown());
        let all_null = Value::null_object(&t);
        assert_eq!(round_trip(&all_null, &t), all_null);
        let mut all_unknown = all_null.clone();
        if let Value::Object(attrs) = &mut all_unknown {
            for v in attrs.values_mut() {
                *v = Value::unknown();
            }
        }
        assert_eq!(round_trip(&all_unknown, &t), all_unknown);
    }

    #[test]
    fn plain_unknown_is_extension_zero() {
        assert_eq!(encode(&Value::unknown(), &Type::String).unwrap(), vec![0xd4, 0x00, 0x00]);
    }

    #[test]
    fn refined_unknowns_decode_as_unknown_and_keep_their_bytes() {
        // ext 12 carrying {1: true} ("definitely not null"), as Terraform sends it.
        let bytes = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3];
        let v = decode(&bytes, &Type::String).unwrap();
        assert!(v.is_unknown());
        assert_eq!(encode(&v, &Type::String).unwrap(), bytes);
        // Any other extension code is unknown too.
        assert!(decode(&[0xd4, 0x05, 0x00], &Type::Number).unwrap().is_unknown());
    }

    #[test]
    fn numbers_use_the_tightest_exact_encoding() {
        let enc = |s: &str| encode(&Value::Number(Number::parse(s).unwrap()), &Type::Number).unwrap();
        assert_eq!(enc("1"), vec![0x01]);
        assert_eq!(enc("-1"), vec![0xff]);
        assert_eq!(enc("18446744073709551615")[0], 0xcf); // uint64
        assert_eq!(enc("0.5")[0], 0xcb); // float64
        let big = "123456789012345678901234567890.000000000001";
        let bytes = enc(big);
        assert_eq!(decode(&bytes, &Type::Number).unwrap(), Value::Number(Number::parse(big).unwrap()));
        // Every integer width reads back.
        for (bytes, want) in [
            (vec![0xcc, 0xff], "255"),
            (vec![0xcd, 0x01, 0x00], "256"),
            (vec![0xd0, 0x80], "-128"),
            (vec![0xd1, 0x80, 0x00], "-32768"),
            (vec![0xd2, 0x80, 0x00, 0x00, 0x00], "-2147483648"),
            (vec![0xca, 0x3f, 0xc0, 0x00, 0x00], "1.5"),
        ] {
            assert_eq!(decode(&bytes, &Type::Number).unwrap().as_number().unwrap().as_str(), want);
        }
    }

    #[test]
    fn object_attributes_are_sorted_and_complete() {
        let t = Type::object([("b", Type::String), ("a", Type::String)]);
        let bytes = encode(&Value::object([("b", Value::string("x"))]), &t).unwrap();
        // fixmap(2), "a", nil, "b", "x"
        assert_eq!(bytes, vec![0x82, 0xa1, b'a', 0xc0, 0xa1, b'b', 0xa1, b'x']);
    }

    #[test]
    fn malformed_input_is_an_error_with_a_path() {
        let t = Type::object([("name", Type::String), ("count", Type::Number)]);
        let cases: Vec<(&[u8], &str)> = vec![
            (&[], "unexpected end"),
            (&[0xc1], "reserved"),
            (&[0x81, 0xa4, b'n', b'a', b'm', b'e', 0x05], "expected a string"),
            (&[0x81, 0xa5, b'c', b'o', b'u', b'n', b't', 0xa1, b'x'], "expected a number"),
            (&[0x81, 0xa3, b'b', b'a', b'd', 0xc0], "unsupported attribute"),
            (&[0x81, 0xa4, b'n', b'a', b'm', b'e', 0xa1, 0xff], "UTF-8"),
            (&[0xdf, 0xff, 0xff, 0xff, 0xff], "does not fit"),
            (&[0x80, 0x00], "trailing"),
            (&[0x81, 0x01, 0xc0], "keys must be strings"),
        ];
        for (bytes, want) in cases {
            let err = decode(bytes, &t).expect_err(want);
            assert!(err.message.contains(want), "{bytes:?}: {err}");
        }
        let err = decode(&[0x81, 0xa4, b'n', b'a', b'm', b'e', 0x05], &t).unwrap_err();
        assert_eq!(error_path(&err), AttributePath::attr("name"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let mut t = Type::String;
        for _ in 0..100 {
            t = Type::list(t);
        }
        let bytes: Vec<u8> = std::iter::repeat_n(0x91, 100).chain([0xa0]).collect();
        assert!(decode(&bytes, &t).unwrap_err().message.contains("too deeply"));
    }

    #[test]
    fn values_that_do_not_fit_the_type_do_not_encode() {
        let err = encode(&Value::object([("nope", Value::Null)]), &Type::object([("a", Type::String)]))
            .unwrap_err();
        assert!(err.message.contains("unsupported attribute"));
        assert!(encode(&Value::Bool(true), &Type::String).is_err());
    }

    /// A deterministic stand-in for the cargo-fuzz target that runs in every
    /// `make test`: random bytes and mutated valid encodings never panic, and
    /// whatever decodes re-encodes to an equal value.
    #[test]
    fn random_and_mutated_input_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let t = every_type();
        let valid = encode(
            &Value::object([
                ("s", Value::string("x")),
                ("l", Value::List(vec![Value::string("a"), Value::unknown()])),
                ("m", Value::Map([("k".to_string(), Value::Bool(true))].into())),
                ("d", Value::Dynamic(Type::Number, Box::new(Value::int(3)))),
            ]),
            &t,
        )
        .unwrap();
        let mut accepted = 0;
        for round in 0..50_000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                (0..(next() % 64)).map(|_| next() as u8).collect()
            } else {
                let mut b = valid.clone();
                for _ in 0..(1 + next() % 4) {
                    let i = (next() as usize) % b.len();
                    b[i] = next() as u8;
                }
                b
            };
            if let Ok(v) = decode(&bytes, &t) {
                accepted += 1;
                let again = decode(&encode(&v, &t).unwrap(), &t).unwrap();
                assert!(again.equals(&v));
            }
        }
        // Some mutations (e.g. of a string's bytes) stay valid.
        assert!(accepted > 0);
    }
}
