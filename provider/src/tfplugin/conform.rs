//! Generic checks and plan steps that follow from a schema alone, so every
//! resource gets them without writing them: required attributes present,
//! computed-only attributes left alone, block counts within limits, computed
//! values marked unknown on create, and which changes force replacement.

use super::diagnostics::{AttributePath, Diagnostic, Diagnostics};
use super::schema::{Block, Nesting, Presence};
use super::value::Value;

/// Checks a configuration value against its block's presence rules and
/// limits. Unknown parts are skipped (they are checked again at apply).
pub fn check_config(block: &Block, value: &Value, path: &AttributePath) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if value.is_unknown() || value.is_null() {
        return diags;
    }
    for a in &block.attributes {
        let v = value.get(&a.name);
        let here = path.then_attr(&a.name);
        match a.presence {
            Presence::Required if v.is_null() => diags.push(Diagnostic::attribute_error(
                here,
                "Missing required argument",
                format!("The argument \"{}\" is required, but no definition was found.", a.name),
            )),
            Presence::Computed if !v.is_null() && !v.is_unknown() => diags.push(Diagnostic::attribute_error(
                here,
                "Value for unconfigurable attribute",
                format!(
                    "Can't configure a value for \"{}\": its value will be decided automatically.",
                    a.name
                ),
            )),
            _ => {}
        }
    }
    for b in &block.blocks {
        let v = value.get(&b.type_name);
        let here = path.then_attr(&b.type_name);
        match b.nesting {
            Nesting::Single => {
                if b.min_items == 1 && v.is_null() {
                    diags.push(Diagnostic::attribute_error(
                        here,
                        "Missing required block",
                        format!("A \"{}\" block is required.", b.type_name),
                    ));
                } else {
                    diags.extend(check_config(&b.block, v, &here));
                }
            }
            Nesting::List | Nesting::Set => {
                if v.is_unknown() {
                    continue;
                }
                let n = v.elements().len() as i64;
                if n < b.min_items || (b.max_items > 0 && n > b.max_items) {
                    let limits = if b.max_items > 0 {
                        format!("between {} and {}", b.min_items, b.max_items)
                    } else {
                        format!("at least {}", b.min_items)
                    };
                    diags.push(Diagnostic::attribute_error(
                        here.clone(),
                        format!("Wrong number of \"{}\" blocks", b.type_name),
                        format!("{limits} \"{}\" blocks are required; found {n}.", b.type_name),
                    ));
                }
                for (i, item) in v.elements().iter().enumerate() {
                    let item_path =
                        if b.nesting == Nesting::List { here.then_index(i) } else { here.clone() };
                    diags.extend(check_config(&b.block, item, &item_path));
                }
            }
            Nesting::Map => {
                if let Some(entries) = v.entries() {
                    for (k, item) in entries {
                        diags.extend(check_config(&b.block, item, &here.then_key(k)));
                    }
                }
            }
        }
    }
    diags
}

/// On create, computed attributes the user left null become unknown:
/// "known after apply". Applies inside nested blocks too.
pub fn mark_computed_unknown(block: &Block, value: &mut Value) {
    let Value::Object(attrs) = value else { return };
    for a in &block.attributes {
        if a.is_computed()
            && let Some(v) = attrs.get_mut(&a.name)
            && v.is_null()
        {
            *v = Value::unknown();
        }
    }
    for b in &block.blocks {
        let Some(v) = attrs.get_mut(&b.type_name) else { continue };
        match v {
            Value::Object(_) => mark_computed_unknown(&b.block, v),
            Value::List(items) | Value::Set(items) => {
                for item in items {
                    mark_computed_unknown(&b.block, item);
                }
            }
            Value::Map(entries) => {
                for item in entries.values_mut() {
                    mark_computed_unknown(&b.block, item);
                }
            }
            _ => {}
        }
    }
}

/// Paths of `force_new` attributes and blocks whose planned value differs
/// from the prior state, looking inside single and list blocks (element by
/// element). Empty on create.
pub fn requires_replace(block: &Block, prior: &Value, planned: &Value) -> Vec<AttributePath> {
    let mut paths = Vec::new();
    collect_replace(block, prior, planned, &AttributePath::root(), &mut paths);
    paths
}

fn collect_replace(
    block: &Block,
    prior: &Value,
    planned: &Value,
    at: &AttributePath,
    out: &mut Vec<AttributePath>,
) {
    if prior.is_null() || planned.is_null() {
        return;
    }
    for a in &block.attributes {
        if a.force_new && !prior.get(&a.name).equals(planned.get(&a.name)) {
            out.push(at.then_attr(&a.name));
        }
    }
    for b in &block.blocks {
        let here = at.then_attr(&b.type_name);
        let (p, n) = (prior.get(&b.type_name), planned.get(&b.type_name));
        if b.force_new {
            if !p.equals(n) {
                out.push(here);
            }
            continue;
        }
        match b.nesting {
            Nesting::Single => collect_replace(&b.block, p, n, &here, out),
            Nesting::List => {
                for (i, (pi, ni)) in p.elements().iter().zip(n.elements()).enumerate() {
                    collect_replace(&b.block, pi, ni, &here.then_index(i), out);
                }
            }
            // Set and map elements have no stable position to compare.
            Nesting::Set | Nesting::Map => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::schema::{Attribute, NestedBlock};
    use crate::tfplugin::types::Type;

    fn block() -> Block {
        Block::new("")
            .attr(Attribute::required("name", Type::String, "").force_new())
            .attr(Attribute::computed("arn", Type::String, ""))
            .attr(Attribute::optional_computed("size", Type::Number, ""))
            .block(
                NestedBlock::new(
                    "stage",
                    Nesting::List,
                    Block::new("")
                        .attr(Attribute::required("image", Type::String, ""))
                        .attr(Attribute::computed("revision", Type::Number, "")),
                )
                .items(1, 2),
            )
    }

    #[test]
    fn missing_required_and_configured_computed_are_errors_with_paths() {
        let v = Value::object([
            ("name", Value::Null),
            ("arn", Value::string("x")),
            ("size", Value::Null),
            ("stage", Value::List(vec![Value::object([("image", Value::Null), ("revision", Value::Null)])])),
        ]);
        let diags = check_config(&block(), &v, &AttributePath::root());
        let paths: Vec<String> = diags.0.iter().map(|d| d.path.clone().unwrap().to_string()).collect();
        assert_eq!(paths, vec!["name", "arn", "stage[0].image"]);
    }

    #[test]
    fn block_counts_are_enforced_and_unknowns_skipped() {
        let v = Value::object([("name", Value::unknown()), ("stage", Value::List(vec![]))]);
        let diags = check_config(&block(), &v, &AttributePath::root());
        assert_eq!(diags.0.len(), 1);
        assert!(diags.0[0].summary.contains("Wrong number"));
        let unknown = Value::object([("name", Value::string("a")), ("stage", Value::unknown())]);
        assert!(check_config(&block(), &unknown, &AttributePath::root()).is_empty());
    }

    #[test]
    fn create_marks_computed_unknown_and_replace_follows_force_new() {
        let mut v = Value::object([
            ("name", Value::string("a")),
            ("arn", Value::Null),
            ("size", Value::int(3)),
            (
                "stage",
                Value::List(vec![Value::object([("image", Value::string("i")), ("revision", Value::Null)])]),
            ),
        ]);
        mark_computed_unknown(&block(), &mut v);
        assert!(v.get("arn").is_unknown());
        assert_eq!(v.get("size"), &Value::int(3));
        assert!(v.get("stage").elements()[0].get("revision").is_unknown());

        let mut renamed = v.clone();
        renamed.set_attr("name", Value::string("b"));
        assert_eq!(requires_replace(&block(), &v, &renamed), vec![AttributePath::attr("name")]);
        assert!(requires_replace(&block(), &Value::Null, &renamed).is_empty());
    }
}
