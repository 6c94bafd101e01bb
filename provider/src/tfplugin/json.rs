//! The JSON encoding of cty values: Terraform's state file format, used by
//! UpgradeResourceState and accepted as a fallback in DynamicValue. JSON has
//! no unknowns; a `dynamic` value is `{"value": ..., "type": ...}`.
//! serde_json is built with `arbitrary_precision`, so numbers keep every digit.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::diagnostics::AttributePath;
use super::msgpack::DecodeError;
use super::number::Number;
use super::types::Type;
use super::value::Value;

pub fn decode_bytes(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let json: Json = serde_json::from_slice(bytes)
        .map_err(|e| DecodeError { path: AttributePath::root(), message: format!("invalid JSON: {e}") })?;
    decode(&json, ty, &AttributePath::root())
}

fn err(path: &AttributePath, message: impl Into<String>) -> DecodeError {
    DecodeError { path: path.clone(), message: message.into() }
}

pub fn decode(json: &Json, ty: &Type, path: &AttributePath) -> Result<Value, DecodeError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        Type::Dynamic => {
            let type_json = json.get("type").ok_or_else(|| err(path, "a dynamic value needs \"type\""))?;
            let inner_ty = Type::from_json(type_json).map_err(|e| err(path, e.to_string()))?;
            let inner = decode(json.get("value").unwrap_or(&Json::Null), &inner_ty, path)?;
            Ok(Value::Dynamic(inner_ty, Box::new(inner)))
        }
        Type::String => match json {
            Json::String(s) => Ok(Value::String(s.clone())),
            // cty converts primitives to string when the type says so.
            Json::Number(n) => Ok(Value::String(n.to_string())),
            Json::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(err(path, "expected a string")),
        },
        Type::Number => {
            let text = match json {
                Json::Number(n) => n.to_string(),
                Json::String(s) => s.clone(),
                _ => return Err(err(path, "expected a number")),
            };
            Number::parse(&text).map(Value::Number).map_err(|_| err(path, "expected a number"))
        }
        Type::Bool => match json {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            Json::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => Err(err(path, "expected a bool")),
        },
        Type::List(elem) | Type::Set(elem) => {
            let items =
                json.as_array().ok_or_else(|| err(path, format!("expected a {}", ty.friendly_name())))?;
            let values = items
                .iter()
                .enumerate()
                .map(|(i, j)| decode(j, elem, &path.then_index(i)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::List(_)) { Value::List(values) } else { Value::Set(values) })
        }
        Type::Tuple(types) => {
            let items = json.as_array().ok_or_else(|| err(path, "expected a tuple"))?;
            if items.len() != types.len() {
                return Err(err(path, format!("tuple needs {} elements, has {}", types.len(), items.len())));
            }
            let values = items
                .iter()
                .zip(types)
                .enumerate()
                .map(|(i, (j, t))| decode(j, t, &path.then_index(i)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Tuple(values))
        }
        Type::Map(elem) => {
            let fields = json.as_object().ok_or_else(|| err(path, "expected a map"))?;
            let mut entries = BTreeMap::new();
            for (k, j) in fields {
                entries.insert(k.clone(), decode(j, elem, &path.then_key(k))?);
            }
            Ok(Value::Map(entries))
        }
        Type::Object(attr_types) => {
            let fields = json.as_object().ok_or_else(|| err(path, "expected an object"))?;
            if let Some(extra) = fields.keys().find(|k| !attr_types.contains_key(*k)) {
                return Err(err(path, format!("unsupported attribute {extra:?}")));
            }
            let mut attrs = BTreeMap::new();
            for (name, t) in attr_types {
                let v = match fields.get(name) {
                    Some(j) => decode(j, t, &path.then_attr(name))?,
                    None => Value::Null,
                };
                attrs.insert(name.clone(), v);
            }
            Ok(Value::Object(attrs))
        }
    }
}

/// JSON for a wholly known value (unknowns have no JSON form).
pub fn encode(value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Unknown(_) => return Err("unknown values have no JSON form".into()),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => serde_json::from_str::<serde_json::Number>(n.as_str())
            .map(Json::Number)
            .map_err(|e| e.to_string())?,
        Value::Bool(b) => Json::Bool(*b),
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            Json::Array(items.iter().map(encode).collect::<Result<_, _>>()?)
        }
        Value::Map(m) | Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                out.insert(k.clone(), encode(v)?);
            }
            Json::Object(out)
        }
        Value::Dynamic(t, v) => serde_json::json!({ "value": encode(v)?, "type": t.to_json() }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_json_decodes_without_losing_digits() {
        let t = Type::object([("n", Type::Number), ("l", Type::list(Type::String)), ("missing", Type::Bool)]);
        let v = decode_bytes(br#"{"n": 123456789012345678901234567890.5, "l": ["a", null]}"#, &t).unwrap();
        assert_eq!(v.get("n").as_number().unwrap().as_str(), "123456789012345678901234567890.5");
        assert_eq!(v.get("l"), &Value::List(vec![Value::string("a"), Value::Null]));
        assert_eq!(v.get("missing"), &Value::Null);
        let back = encode(&v).unwrap();
        assert_eq!(decode(&back, &t, &AttributePath::root()).unwrap(), v);
    }

    #[test]
    fn bad_json_names_the_attribute() {
        let t = Type::object([("n", Type::Number)]);
        let e = decode_bytes(br#"{"n": "twelve"}"#, &t).unwrap_err();
        assert_eq!(e.path, AttributePath::attr("n"));
        assert!(decode_bytes(br#"{"zzz": 1}"#, &t).unwrap_err().message.contains("unsupported"));
        assert!(decode_bytes(b"{", &t).unwrap_err().message.contains("invalid JSON"));
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let v = decode_bytes(br#"{"value": [true], "type": ["list", "bool"]}"#, &Type::Dynamic).unwrap();
        assert_eq!(v, Value::Dynamic(Type::list(Type::Bool), Box::new(Value::List(vec![Value::Bool(true)]))));
    }
}
