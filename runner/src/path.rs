//! The JSONPath subset the definitions use: `$`, `$.a.b`, `$.a[0]`, and
//! `$$.x` for the context object. Reading, and writing for `ResultPath`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    /// `$$...`: the context object rather than the state input.
    pub context: bool,
    pub segs: Vec<Seg>,
    pub text: String,
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (context, mut rest) = match text.strip_prefix("$$") {
            Some(r) => (true, r),
            None => (false, text.strip_prefix('$').ok_or_else(|| format!("{text:?} does not start with $"))?),
        };
        let mut segs = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let key = &r[..end];
                if key.is_empty() || !key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                    return Err(format!("{text:?}: unsupported path component {key:?}"));
                }
                segs.push(Seg::Key(key.to_string()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| format!("{text:?}: unclosed ["))?;
                let index =
                    r[..end].parse().map_err(|_| format!("{text:?}: only [<number>] is supported"))?;
                segs.push(Seg::Index(index));
                rest = &r[end + 1..];
            } else {
                return Err(format!("{text:?}: unsupported JSONPath syntax at {rest:?}"));
            }
        }
        Ok(JsonPath { context, segs, text: text.to_string() })
    }

    pub fn get<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        self.segs.iter().try_fold(root, |v, seg| match seg {
            Seg::Key(k) => v.get(k.as_str()),
            Seg::Index(i) => v.get(*i),
        })
    }

    /// `ResultPath` semantics: `$` replaces the whole input; otherwise the
    /// value is placed at the path, creating objects on the way.
    pub fn set(&self, root: Value, value: Value) -> Result<Value, String> {
        let mut root = root;
        let Some((last, parents)) = self.segs.split_last() else { return Ok(value) };
        let mut cur = &mut root;
        for seg in parents {
            cur = match seg {
                Seg::Key(k) => {
                    if !cur.is_object() {
                        *cur = Value::Object(Map::new());
                    }
                    let obj = cur.as_object_mut().ok_or("not an object")?;
                    obj.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()))
                }
                Seg::Index(_) => {
                    return Err(format!("ResultPath {:?}: array indices are not supported", self.text));
                }
            };
        }
        match last {
            Seg::Key(k) => {
                if !cur.is_object() {
                    *cur = Value::Object(Map::new());
                }
                if let Some(obj) = cur.as_object_mut() {
                    obj.insert(k.clone(), value);
                }
            }
            Seg::Index(_) => {
                return Err(format!("ResultPath {:?}: array indices are not supported", self.text));
            }
        }
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes() {
        let v = json!({"a": {"b": [1, {"c": "x"}]}});
        assert_eq!(JsonPath::parse("$.a.b[1].c").unwrap().get(&v), Some(&json!("x")));
        assert_eq!(JsonPath::parse("$").unwrap().get(&v), Some(&v));
        assert!(JsonPath::parse("$.a.zz").unwrap().get(&v).is_none());
        assert!(JsonPath::parse("$..a").is_err());
        assert!(JsonPath::parse("a.b").is_err());
        assert!(JsonPath::parse("$$.Execution.Name").unwrap().context);
        let w = JsonPath::parse("$.x.y").unwrap().set(v.clone(), json!(3)).unwrap();
        assert_eq!(w["x"]["y"], 3);
        assert_eq!(w["a"], v["a"]);
        assert_eq!(JsonPath::parse("$").unwrap().set(v, json!(1)).unwrap(), json!(1));
    }
}
