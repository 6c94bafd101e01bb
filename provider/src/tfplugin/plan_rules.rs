//! The plan steps that follow from a schema alone, done by the protocol
//! layer before (defaults, unknowns) and after (replacement) a resource's
//! own plan, as terraform-plugin-framework does: declared defaults filled
//! in where the configuration leaves a setting out, computed values marked
//! unknown on create, and which changes force replacement.

use super::diagnostics::AttributePath;
use super::schema::{Block, Nesting};
use super::value::Value;

/// Plans the declared defaults: every defaulted attribute the
/// configuration leaves out is planned as its default. Terraform proposes
/// the *prior* value for an optional + computed attribute left out of the
/// configuration, so without this, removing `force_destroy = true` would
/// keep it true (and apply, which reads the configuration, would disagree
/// with the plan). Unknown and set values are left as proposed; nested
/// blocks are matched with their configuration element by element.
pub fn apply_defaults(block: &Block, planned: &mut Value, config: &Value) {
    let Value::Object(attrs) = planned else { return };
    for a in &block.attributes {
        if let Some(default) = &a.default
            && config.get(&a.name).is_null()
        {
            attrs.insert(a.name.clone(), default.clone());
        }
    }
    for b in &block.blocks {
        let Some(v) = attrs.get_mut(&b.type_name) else { continue };
        let configured = config.get(&b.type_name);
        match v {
            Value::Object(_) => apply_defaults(&b.block, v, configured),
            Value::List(items) => {
                for (item, config_item) in items.iter_mut().zip(configured.elements()) {
                    apply_defaults(&b.block, item, config_item);
                }
            }
            Value::Map(entries) => {
                for (key, item) in entries.iter_mut() {
                    if let Some(config_item) = configured.entries().and_then(|c| c.get(key)) {
                        apply_defaults(&b.block, item, config_item);
                    }
                }
            }
            // Set elements have no stable position to match.
            _ => {}
        }
    }
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

    use crate::tfplugin::schema::fixtures::resource_block as block;

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

    fn defaulted() -> Block {
        Block::new("").attr(Attribute::optional("force", Type::Bool, "").default(Value::Bool(false))).block(
            NestedBlock::new(
                "stage",
                Nesting::List,
                Block::new("")
                    .attr(Attribute::optional("memory", Type::Number, "").default(Value::int(2048))),
            ),
        )
    }

    fn pipeline(force: Value, memory: Value) -> Value {
        Value::object([("force", force), ("stage", Value::List(vec![Value::object([("memory", memory)])]))])
    }

    #[test]
    fn a_setting_left_out_is_planned_as_its_default_not_the_prior_value() {
        // Proposed by Terraform: the prior state's values for settings the
        // configuration no longer has.
        let mut planned = pipeline(Value::Bool(true), Value::int(4096));
        apply_defaults(&defaulted(), &mut planned, &pipeline(Value::Null, Value::Null));
        assert_eq!(planned, pipeline(Value::Bool(false), Value::int(2048)));
    }

    #[test]
    fn set_and_unknown_settings_are_kept() {
        let mut planned = pipeline(Value::Bool(true), Value::unknown());
        apply_defaults(&defaulted(), &mut planned, &pipeline(Value::Bool(true), Value::unknown()));
        assert_eq!(planned.get("force"), &Value::Bool(true));
        assert!(planned.get("stage").elements()[0].get("memory").is_unknown());
    }
}
