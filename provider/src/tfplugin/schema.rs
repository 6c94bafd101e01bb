//! Schemas: what a provider, resource or data source accepts and computes.
//! The model here can only express what Terraform accepts; `check()` catches
//! the remaining rules (names, nesting limits) and runs in unit tests for every
//! schema the provider serves.

use std::collections::{BTreeMap, BTreeSet};

use crate::proto::tfplugin6 as pb;

use super::types::Type;
use super::validators::Validator;
use super::value::Value;

/// Who sets an attribute: the user, the provider, or either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    Computed,
    /// The user may set it; if not, the provider decides.
    OptionalComputed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub presence: Presence,
    pub description: String,
    pub sensitive: bool,
    pub deprecated: bool,
    /// A change to this attribute replaces the resource (provider-side
    /// metadata: reported in PlanResourceChange's requires_replace).
    pub force_new: bool,
    /// What the plan shows when the configuration leaves it out (the
    /// attribute is then optional + computed, so the plan can say so).
    pub default: Option<Value>,
    /// Checks of the value alone, run at Validate*Config.
    pub validators: Vec<Validator>,
}

impl Attribute {
    pub fn new(name: &str, ty: Type, presence: Presence, description: &str) -> Self {
        Attribute {
            name: name.to_string(),
            ty,
            presence,
            description: description.to_string(),
            sensitive: false,
            deprecated: false,
            force_new: false,
            default: None,
            validators: Vec::new(),
        }
    }
    pub fn required(name: &str, ty: Type, description: &str) -> Self {
        Self::new(name, ty, Presence::Required, description)
    }
    pub fn optional(name: &str, ty: Type, description: &str) -> Self {
        Self::new(name, ty, Presence::Optional, description)
    }
    pub fn computed(name: &str, ty: Type, description: &str) -> Self {
        Self::new(name, ty, Presence::Computed, description)
    }
    pub fn optional_computed(name: &str, ty: Type, description: &str) -> Self {
        Self::new(name, ty, Presence::OptionalComputed, description)
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }
    /// Declares the default: an optional attribute becomes optional +
    /// computed, and its description ends with "(default ...)".
    pub fn default(mut self, value: Value) -> Self {
        if self.presence == Presence::Optional {
            self.presence = Presence::OptionalComputed;
        }
        self.default = Some(value);
        self
    }
    pub fn validate(mut self, validator: Validator) -> Self {
        self.validators.push(validator);
        self
    }

    /// The description Terraform shows: the declared text, with the
    /// default (when there is one) written from the declaration so the two
    /// cannot disagree.
    pub fn full_description(&self) -> String {
        match &self.default {
            None => self.description.clone(),
            Some(default) => {
                let text = self.description.strip_suffix('.').unwrap_or(&self.description);
                format!("{text} (default {}).", shown(default))
            }
        }
    }

    /// The declared whole-number range, if any.
    pub fn whole_number_range(&self) -> Option<std::ops::RangeInclusive<i64>> {
        self.validators.iter().find_map(|v| match v {
            Validator::WholeNumber { min, max, .. } => Some(*min..=*max),
            _ => None,
        })
    }

    /// The declared allowed strings, if any.
    pub fn allowed(&self) -> Option<&'static [&'static str]> {
        self.validators.iter().find_map(|v| match v {
            Validator::OneOf { allowed, .. } => Some(*allowed),
            _ => None,
        })
    }

    pub fn is_computed(&self) -> bool {
        matches!(self.presence, Presence::Computed | Presence::OptionalComputed)
    }

    fn to_proto(&self) -> pb::schema::Attribute {
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: self.ty.to_json_bytes(),
            nested_type: None,
            description: self.full_description(),
            required: self.presence == Presence::Required,
            optional: matches!(self.presence, Presence::Optional | Presence::OptionalComputed),
            computed: self.is_computed(),
            sensitive: self.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
            write_only: false,
        }
    }
}

/// A default as the description writes it: `1`, `true`, `results`, `[75]`.
pub fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            format!("[{}]", items.iter().map(shown).collect::<Vec<_>>().join(", "))
        }
        other => format!("{other:?}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block; its value is an object (null when absent).
    Single,
    List,
    Set,
    Map,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
    /// Changing anything inside replaces the resource.
    pub force_new: bool,
}

impl NestedBlock {
    pub fn new(type_name: &str, nesting: Nesting, block: Block) -> Self {
        NestedBlock {
            type_name: type_name.to_string(),
            nesting,
            block,
            min_items: 0,
            max_items: 0,
            force_new: false,
        }
    }
    pub fn items(mut self, min: i64, max: i64) -> Self {
        self.min_items = min;
        self.max_items = max;
        self
    }
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    /// The type of this block's value within its parent object.
    pub fn value_type(&self) -> Type {
        let object = self.block.value_type();
        match self.nesting {
            Nesting::Single => object,
            Nesting::List => Type::list(object),
            Nesting::Set => Type::set(object),
            Nesting::Map => Type::map(object),
        }
    }

    fn to_proto(&self) -> pb::schema::NestedBlock {
        use pb::schema::nested_block::NestingMode;
        pb::schema::NestedBlock {
            type_name: self.type_name.clone(),
            block: Some(self.block.to_proto(0)),
            nesting: match self.nesting {
                Nesting::Single => NestingMode::Single,
                Nesting::List => NestingMode::List,
                Nesting::Set => NestingMode::Set,
                Nesting::Map => NestingMode::Map,
            } as i32,
            min_items: self.min_items,
            max_items: self.max_items,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
}

impl Block {
    pub fn new(description: &str) -> Self {
        Block { description: description.to_string(), ..Default::default() }
    }
    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }
    pub fn block(mut self, b: NestedBlock) -> Self {
        self.blocks.push(b);
        self
    }

    /// The object type of this block's value (what DynamicValues carry).
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> =
            self.attributes.iter().map(|a| (a.name.clone(), a.ty.clone())).collect();
        for b in &self.blocks {
            attrs.insert(b.type_name.clone(), b.value_type());
        }
        Type::Object(attrs)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn nested(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.type_name == name)
    }

    fn to_proto(&self, version: i64) -> pb::schema::Block {
        pb::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self.blocks.iter().map(NestedBlock::to_proto).collect(),
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: false,
        }
    }

    /// Terraform's rules for a block, checked recursively; every problem is
    /// listed with its path.
    pub fn check(&self, at: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        for a in &self.attributes {
            if !valid_name(&a.name) {
                problems.push(format!("{at}: attribute name {:?} is not a valid identifier", a.name));
            }
            if !names.insert(a.name.as_str()) {
                problems.push(format!("{at}: duplicate name {:?}", a.name));
            }
            if a.force_new && a.presence == Presence::Computed {
                problems.push(format!("{at}.{}: a computed-only attribute cannot force replacement", a.name));
            }
            if let Some(default) = &a.default {
                if a.presence != Presence::OptionalComputed {
                    problems
                        .push(format!("{at}.{}: a default needs an optional + computed attribute", a.name));
                }
                if !a.validators.iter().all(|v| v.accepts(default)) {
                    problems.push(format!("{at}.{}: the default is refused by its own validators", a.name));
                }
            }
        }
        for b in &self.blocks {
            if !valid_name(&b.type_name) {
                problems.push(format!("{at}: block name {:?} is not a valid identifier", b.type_name));
            }
            if !names.insert(b.type_name.as_str()) {
                problems.push(format!("{at}: duplicate name {:?}", b.type_name));
            }
            let here = format!("{at}.{}", b.type_name);
            if b.min_items < 0 || b.max_items < 0 || (b.max_items > 0 && b.min_items > b.max_items) {
                problems.push(format!(
                    "{here}: min_items {} / max_items {} are inconsistent",
                    b.min_items, b.max_items
                ));
            }
            match b.nesting {
                Nesting::Single if b.min_items > 1 || b.max_items > 1 => {
                    problems.push(format!("{here}: a single block allows at most one item"));
                }
                Nesting::Map if b.min_items != 0 || b.max_items != 0 => {
                    problems.push(format!("{here}: map blocks cannot limit their items"));
                }
                _ => {}
            }
            problems.extend(b.block.check(&here));
        }
        problems
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A versioned top-level schema (provider config, resource or data source).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Self {
        Schema { version, block }
    }

    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    pub fn to_proto(&self) -> pb::Schema {
        pb::Schema { version: self.version, block: Some(self.block.to_proto(self.version)) }
    }
}

/// A small resource block the protocol layer's tests share: a required
/// force-new name, computed and optional + computed attributes, and a list
/// block of one or two with a computed attribute inside.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Attribute, Block, NestedBlock, Nesting};
    use crate::tfplugin::types::Type;

    pub fn resource_block() -> Block {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Schema {
        Schema::new(
            2,
            Block::new("A sample")
                .attr(Attribute::required("name", Type::String, "Name").force_new())
                .attr(Attribute::optional_computed("size", Type::Number, "Size"))
                .attr(Attribute::computed("arn", Type::String, "ARN"))
                .block(
                    NestedBlock::new(
                        "stage",
                        Nesting::List,
                        Block::new("").attr(Attribute::optional("env", Type::map(Type::String), "")),
                    )
                    .items(1, 3),
                )
                .block(NestedBlock::new("timeouts", Nesting::Single, Block::new(""))),
        )
    }

    #[test]
    fn proto_conversion_sets_terraform_flags() {
        let p = sample().to_proto();
        let block = p.block.unwrap();
        assert_eq!(p.version, 2);
        let size = block.attributes.iter().find(|a| a.name == "size").unwrap();
        assert!(size.optional && size.computed && !size.required);
        let name = block.attributes.iter().find(|a| a.name == "name").unwrap();
        assert!(name.required && !name.optional && !name.computed);
        assert_eq!(name.r#type, b"\"string\"");
        let arn = block.attributes.iter().find(|a| a.name == "arn").unwrap();
        assert!(arn.computed && !arn.optional && !arn.required);
        let stage = block.block_types.iter().find(|b| b.type_name == "stage").unwrap();
        assert_eq!((stage.min_items, stage.max_items), (1, 3));
    }

    #[test]
    fn value_type_includes_blocks() {
        let t = sample().value_type();
        let Type::Object(attrs) = t else { panic!() };
        assert_eq!(attrs["stage"], Type::list(Type::object([("env", Type::map(Type::String))])));
        assert_eq!(attrs["timeouts"], Type::object(Vec::<(String, Type)>::new()));
    }

    #[test]
    fn a_default_makes_the_attribute_computed_and_is_written_into_its_description() {
        let memory = Attribute::optional("memory", Type::Number, "Memory in MiB.").default(Value::int(2048));
        assert_eq!(memory.presence, Presence::OptionalComputed);
        assert_eq!(memory.to_proto().description, "Memory in MiB (default 2048).");
        let codes = Attribute::optional("codes", Type::set(Type::Number), "Retried")
            .default(Value::Set(vec![Value::int(75)]));
        assert_eq!(codes.full_description(), "Retried (default [75]).");
        let plain = Attribute::optional("x", Type::String, "As written.");
        assert_eq!(plain.full_description(), "As written.");
        let refused = Block::new("").attr(
            Attribute::optional("n", Type::Number, "")
                .validate(Validator::whole_number(1, 3))
                .default(Value::int(4)),
        );
        assert_eq!(refused.check("b").len(), 1);
    }

    #[test]
    fn check_catches_rule_violations() {
        assert!(sample().block.check("sample").is_empty());
        let bad = Block::new("")
            .attr(Attribute::required("Bad-Name", Type::String, ""))
            .attr(Attribute::required("x", Type::String, ""))
            .attr(Attribute::computed("y", Type::String, "").force_new())
            .block(NestedBlock::new("x", Nesting::Single, Block::new("")).items(0, 2));
        let problems = bad.check("bad");
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }
}
