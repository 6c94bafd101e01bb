//! The checks of a configuration that follow from a schema alone, so every
//! resource, data source and provider block gets them without writing
//! them: required attributes present, computed-only attributes left alone,
//! block counts within limits ([`check_config`]), and each attribute's
//! declared validators ([`check_values`]).

use super::diagnostics::{AttributePath, Diagnostic, Diagnostics};
use super::schema::{Block, NestedBlock, Nesting, Presence};
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
                    continue;
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
            }
            Nesting::Map => {}
        }
        for (item, item_path) in nested_objects(b, v, &here) {
            diags.extend(check_config(&b.block, item, &item_path));
        }
    }
    diags
}

/// Runs every attribute's declared validators, inside nested blocks too;
/// each refusal is a diagnostic on the attribute's path. Unknown and null
/// values are skipped (checked once known; presence is [`check_config`]'s).
pub fn check_values(block: &Block, value: &Value, path: &AttributePath) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if value.is_unknown() || value.is_null() {
        return diags;
    }
    for a in &block.attributes {
        let v = value.get(&a.name);
        for validator in &a.validators {
            if let Some((summary, detail)) = validator.check(&a.name, v) {
                diags.push(Diagnostic::attribute_error(path.then_attr(&a.name), summary, detail));
            }
        }
    }
    for b in &block.blocks {
        let here = path.then_attr(&b.type_name);
        for (item, item_path) in nested_objects(b, value.get(&b.type_name), &here) {
            diags.extend(check_values(&b.block, item, &item_path));
        }
    }
    diags
}

/// The objects a nested block's value holds, each with its path: a single
/// block's object, each list element by index, each set element at the
/// block's own path (it has no index to point at), each map entry by key.
fn nested_objects<'v>(
    b: &NestedBlock,
    v: &'v Value,
    here: &AttributePath,
) -> Vec<(&'v Value, AttributePath)> {
    match b.nesting {
        Nesting::Single => vec![(v, here.clone())],
        Nesting::List => {
            v.elements().iter().enumerate().map(|(i, item)| (item, here.then_index(i))).collect()
        }
        Nesting::Set => v.elements().iter().map(|item| (item, here.clone())).collect(),
        Nesting::Map => v.entries().into_iter().flatten().map(|(k, item)| (item, here.then_key(k))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::schema::{Attribute, NestedBlock};
    use crate::tfplugin::types::Type;
    use crate::tfplugin::validators::Validator;

    use crate::tfplugin::schema::fixtures::resource_block as block;

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
    fn declared_validators_refuse_on_the_attributes_path() {
        let b = Block::new("").block(NestedBlock::new(
            "stage",
            Nesting::List,
            Block::new("")
                .attr(Attribute::optional("tries", Type::Number, "").validate(Validator::whole_number(1, 10)))
                .attr(Attribute::optional("mode", Type::String, "").validate(Validator::one_of(&["a", "b"]))),
        ));
        let stage = |tries: Value, mode: Value| {
            Value::object([("stage", Value::List(vec![Value::object([("tries", tries), ("mode", mode)])]))])
        };
        let diags = check_values(&b, &stage(Value::int(11), Value::string("c")), &AttributePath::root());
        let found: Vec<(String, String)> =
            diags.0.iter().map(|d| (d.path.clone().unwrap().to_string(), d.summary.clone())).collect();
        assert_eq!(
            found,
            vec![
                ("stage[0].tries".to_string(), "Invalid tries".to_string()),
                ("stage[0].mode".to_string(), "Invalid mode".to_string())
            ]
        );
        assert!(check_values(&b, &stage(Value::unknown(), Value::Null), &AttributePath::root()).is_empty());
        assert!(
            check_values(&b, &stage(Value::int(3), Value::string("a")), &AttributePath::root()).is_empty()
        );
    }
}
