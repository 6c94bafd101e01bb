//! Payload templates (`Parameters`, `ResultSelector`): keys ending in `.$`
//! take a JSONPath or an intrinsic function (`States.Format`,
//! `States.JsonToString`). Compiled once, at load time, so that a bad path
//! is refused before anything runs.

use serde_json::{Map, Value};

use crate::path::JsonPath;

#[derive(Debug, Clone)]
pub enum Expr {
    Path(JsonPath),
    Format(Vec<Expr>),
    JsonToString(Box<Expr>),
    Str(String),
    Num(f64),
}

#[derive(Debug, Clone)]
pub enum Template {
    Literal(Value),
    Dynamic(Expr),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

pub fn compile(value: &Value) -> Result<Template, String> {
    Ok(match value {
        Value::Object(map) => {
            let mut fields = Vec::new();
            for (k, v) in map {
                if let Some(name) = k.strip_suffix(".$") {
                    let text =
                        v.as_str().ok_or_else(|| format!("{k:?} must be a string (a path or intrinsic)"))?;
                    fields.push((name.to_string(), Template::Dynamic(parse_expr(text)?)));
                } else {
                    fields.push((k.clone(), compile(v)?));
                }
            }
            Template::Object(fields)
        }
        Value::Array(items) => Template::Array(items.iter().map(compile).collect::<Result<_, _>>()?),
        other => Template::Literal(other.clone()),
    })
}

impl Template {
    pub fn render(&self, input: &Value, context: &Value) -> Result<Value, String> {
        Ok(match self {
            Template::Literal(v) => v.clone(),
            Template::Dynamic(e) => e.eval(input, context)?,
            Template::Object(fields) => {
                let mut out = Map::new();
                for (k, t) in fields {
                    out.insert(k.clone(), t.render(input, context)?);
                }
                Value::Object(out)
            }
            Template::Array(items) => {
                Value::Array(items.iter().map(|t| t.render(input, context)).collect::<Result<_, _>>()?)
            }
        })
    }
}

impl Expr {
    pub fn eval(&self, input: &Value, context: &Value) -> Result<Value, String> {
        Ok(match self {
            Expr::Path(p) => {
                let root = if p.context { context } else { input };
                p.get(root).cloned().ok_or_else(|| format!("the JSONPath {:?} matched nothing", p.text))?
            }
            Expr::Str(s) => Value::String(s.clone()),
            Expr::Num(n) => serde_json::Number::from_f64(*n).map(Value::Number).unwrap_or(Value::Null),
            Expr::JsonToString(e) => Value::String(e.eval(input, context)?.to_string()),
            Expr::Format(args) => {
                let (fmt, rest) = args.split_first().ok_or("States.Format needs a format string")?;
                let Value::String(fmt) = fmt.eval(input, context)? else {
                    return Err("States.Format's first argument must be a string".into());
                };
                let mut out = String::new();
                let mut values = rest.iter();
                let mut pieces = fmt.split("{}").peekable();
                while let Some(piece) = pieces.next() {
                    out.push_str(piece);
                    if pieces.peek().is_some() {
                        let v = values
                            .next()
                            .ok_or("States.Format: more {} than arguments")?
                            .eval(input, context)?;
                        match v {
                            Value::String(s) => out.push_str(&s),
                            other => out.push_str(&other.to_string()),
                        }
                    }
                }
                if values.next().is_some() {
                    return Err("States.Format: more arguments than {}".into());
                }
                Value::String(out)
            }
        })
    }
}

/// A path (`$...`, `$$...`) or an intrinsic call.
pub fn parse_expr(text: &str) -> Result<Expr, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0, text };
    let e = p.expr()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("{text:?}: unexpected text after position {}", p.i));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.ws();
        let rest = &self.text[self.i..];
        if rest.starts_with('$') {
            let end = rest.find([',', ')', ' ']).unwrap_or(rest.len());
            self.i += end;
            return Ok(Expr::Path(JsonPath::parse(&rest[..end])?));
        }
        if rest.starts_with('\'') {
            self.i += 1;
            let mut out = String::new();
            loop {
                let c = *self.s.get(self.i).ok_or_else(|| format!("{:?}: unterminated string", self.text))?;
                self.i += 1;
                match c {
                    b'\\' => {
                        // The escaped character whole (it may be more than a byte).
                        let n = self.text[self.i..].chars().next().ok_or("dangling escape")?;
                        self.i += n.len_utf8();
                        out.push(n);
                    }
                    b'\'' => break,
                    _ => {
                        // Copy the whole UTF-8 sequence.
                        let start = self.i - 1;
                        let mut end = self.i;
                        while end < self.s.len() && (self.s[end] & 0xC0) == 0x80 {
                            end += 1;
                        }
                        out.push_str(&self.text[start..end]);
                        self.i = end;
                    }
                }
            }
            return Ok(Expr::Str(out));
        }
        if rest.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            let end = rest.find([',', ')', ' ']).unwrap_or(rest.len());
            self.i += end;
            return rest[..end].parse().map(Expr::Num).map_err(|_| format!("bad number {:?}", &rest[..end]));
        }
        let open = rest
            .find('(')
            .ok_or_else(|| format!("{:?}: expected a path, a string or States.X(...)", self.text))?;
        let name = rest[..open].trim();
        self.i += open + 1;
        let mut args = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b')') {
            self.i += 1;
        } else {
            loop {
                args.push(self.expr()?);
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(format!("{:?}: expected , or )", self.text)),
                }
            }
        }
        match name {
            "States.Format" => Ok(Expr::Format(args)),
            "States.JsonToString" if args.len() == 1 => Ok(Expr::JsonToString(Box::new(args.remove(0)))),
            "States.JsonToString" => Err("States.JsonToString takes one argument".into()),
            other => Err(format!("intrinsic function {other:?} is not supported by the local runner")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_paths_and_intrinsics() {
        let t = compile(&json!({
            "JobName.$": "States.Format('procurement-{}', $.prep.run.run_id)",
            "Fixed": {"a": [1, {"b.$": "$.n"}]},
            "Text.$": "States.JsonToString($.prep)",
            "Exec.$": "$$.Execution.Name",
        }))
        .unwrap();
        let input = json!({"prep": {"run": {"run_id": "r1"}}, "n": 7});
        let out = t.render(&input, &json!({"Execution": {"Name": "e"}})).unwrap();
        assert_eq!(out["JobName"], "procurement-r1");
        assert_eq!(out["Fixed"]["a"][1]["b"], 7);
        assert_eq!(out["Text"], r#"{"run":{"run_id":"r1"}}"#);
        assert_eq!(out["Exec"], "e");
        assert!(compile(&json!({"x.$": "States.Hash($.a, 'SHA-1')"})).unwrap_err().contains("States.Hash"));
        assert!(t.render(&json!({}), &json!({})).unwrap_err().contains("matched nothing"));
    }

    /// An escaped character of more than one byte is taken whole (it
    /// panicked, slicing inside the character).
    #[test]
    fn escapes_take_whole_characters() {
        let t = compile(&json!({"x.$": "States.Format('\\é{} \\'ok\\'', $.n)"})).unwrap();
        assert_eq!(t.render(&json!({"n": 1}), &json!({})).unwrap()["x"], "é1 'ok'");
        assert!(compile(&json!({"x.$": "States.Format('\\"})).is_err());
    }
}
