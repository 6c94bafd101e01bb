//! Reads a provider's schema in the JSON form `terraform providers schema
//! -json` prints (format_version 1.0) into the protocol layer's model.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use provider::tfplugin::{Attribute, Block, NestedBlock, Nesting, Presence, Schema, Type};
use serde_json::Value as Json;

/// One provider's schemas: its own configuration block and its types.
pub struct ProviderSchemas {
    pub provider: Schema,
    pub resources: BTreeMap<String, Schema>,
    pub data_sources: BTreeMap<String, Schema>,
}

/// The schemas of `address` (e.g. registry.terraform.io/hashicorp/aws).
pub fn parse(document: &Json, address: &str) -> Result<ProviderSchemas> {
    let format = document.get("format_version").and_then(Json::as_str).unwrap_or_default();
    if !format.starts_with("1.") {
        bail!("format_version {format:?} is not 1.x");
    }
    let entry = document
        .get("provider_schemas")
        .and_then(|p| p.get(address))
        .ok_or_else(|| anyhow!("provider_schemas has no {address:?}"))?;
    let provider = match entry.get("provider") {
        Some(s) if !s.is_null() => schema(s).context("provider")?,
        _ => Schema::new(0, Block::new("")),
    };
    Ok(ProviderSchemas {
        provider,
        resources: schemas(entry.get("resource_schemas")).context("resource_schemas")?,
        data_sources: schemas(entry.get("data_source_schemas")).context("data_source_schemas")?,
    })
}

fn schemas(map: Option<&Json>) -> Result<BTreeMap<String, Schema>> {
    let mut out = BTreeMap::new();
    let Some(map) = map.and_then(Json::as_object) else { return Ok(out) };
    for (name, s) in map {
        out.insert(name.clone(), schema(s).with_context(|| name.clone())?);
    }
    Ok(out)
}

fn schema(s: &Json) -> Result<Schema> {
    let version = s.get("version").and_then(Json::as_i64).unwrap_or(0);
    let block_json = s.get("block").ok_or_else(|| anyhow!("no \"block\""))?;
    Ok(Schema::new(version, block(block_json)?))
}

fn block(b: &Json) -> Result<Block> {
    let mut out = Block::new(b.get("description").and_then(Json::as_str).unwrap_or_default());
    if let Some(attrs) = b.get("attributes").and_then(Json::as_object) {
        for (name, a) in attrs {
            out = out.attr(attribute(name, a).with_context(|| format!("attribute {name}"))?);
        }
    }
    if let Some(blocks) = b.get("block_types").and_then(Json::as_object) {
        for (name, nb) in blocks {
            out = out.block(nested_block(name, nb).with_context(|| format!("block {name}"))?);
        }
    }
    Ok(out)
}

fn attribute(name: &str, a: &Json) -> Result<Attribute> {
    let flag = |k: &str| a.get(k).and_then(Json::as_bool).unwrap_or(false);
    let presence = match (flag("required"), flag("optional"), flag("computed")) {
        (true, _, _) => Presence::Required,
        (false, true, true) => Presence::OptionalComputed,
        (false, true, false) => Presence::Optional,
        (false, false, true) => Presence::Computed,
        (false, false, false) => bail!("neither required, optional nor computed"),
    };
    // Nested attribute types (protocol 6's nested_type) are served as
    // dynamic: Terraform then accepts any value there, never refuses a
    // valid one.
    let ty = match a.get("type") {
        Some(t) => Type::from_json(t).map_err(|e| anyhow!("{e}"))?,
        None if a.get("nested_type").is_some() => Type::Dynamic,
        None => bail!("no type"),
    };
    let description = a.get("description").and_then(Json::as_str).unwrap_or_default();
    let mut attr = Attribute::new(name, ty, presence, description);
    attr.sensitive = flag("sensitive");
    attr.deprecated = flag("deprecated");
    Ok(attr)
}

fn nested_block(name: &str, nb: &Json) -> Result<NestedBlock> {
    let nesting = match nb.get("nesting_mode").and_then(Json::as_str) {
        Some("single") | Some("group") => Nesting::Single,
        Some("list") => Nesting::List,
        Some("set") => Nesting::Set,
        Some("map") => Nesting::Map,
        other => bail!("nesting_mode {other:?}"),
    };
    let inner = block(nb.get("block").ok_or_else(|| anyhow!("no \"block\""))?)?;
    let min = nb.get("min_items").and_then(Json::as_i64).unwrap_or(0);
    let max = nb.get("max_items").and_then(Json::as_i64).unwrap_or(0);
    Ok(NestedBlock::new(name, nesting, inner).items(min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(resource: Json) -> Json {
        json!({"format_version": "1.0", "provider_schemas": {"x/y": {
            "provider": {"version": 0, "block": {"attributes": {"region": {"type": "string", "optional": true}}}},
            "resource_schemas": {"y_thing": resource},
        }}})
    }

    #[test]
    fn reads_attributes_blocks_and_limits() {
        let d = doc(json!({"version": 2, "block": {
            "attributes": {
                "name": {"type": "string", "required": true},
                "arn": {"type": "string", "computed": true},
                "tags": {"type": ["map", "string"], "optional": true, "computed": true},
                "settings": {"nested_type": {"nesting_mode": "single", "attributes": {}}, "optional": true},
            },
            "block_types": {"rule": {"nesting_mode": "list", "min_items": 1, "max_items": 1,
                "block": {"attributes": {"n": {"type": "number", "optional": true}}}}},
        }}));
        let s = parse(&d, "x/y").expect("parses");
        let thing = &s.resources["y_thing"];
        assert_eq!(thing.version, 2);
        let attr = |n: &str| thing.block.attributes.iter().find(|a| a.name == n).expect(n).clone();
        assert_eq!(attr("name").presence, Presence::Required);
        assert_eq!(attr("arn").presence, Presence::Computed);
        assert_eq!(attr("tags").presence, Presence::OptionalComputed);
        assert_eq!(attr("tags").ty, Type::map(Type::String));
        assert_eq!(attr("settings").ty, Type::Dynamic);
        let rule = &thing.block.blocks[0];
        assert_eq!(
            (rule.type_name.as_str(), rule.nesting, rule.min_items, rule.max_items),
            ("rule", Nesting::List, 1, 1)
        );
        assert_eq!(s.provider.block.attributes[0].name, "region");
    }

    #[test]
    fn refuses_what_it_cannot_serve_faithfully() {
        let no_presence = doc(json!({"block": {"attributes": {"a": {"type": "string"}}}}));
        assert!(format!("{:#}", parse(&no_presence, "x/y").err().expect("refused")).contains("attribute a"));
        let bad_type = doc(json!({"block": {"attributes": {"a": {"type": ["list"], "optional": true}}}}));
        assert!(parse(&bad_type, "x/y").is_err());
        let bad_nesting =
            doc(json!({"block": {"block_types": {"b": {"nesting_mode": "tuple", "block": {}}}}}));
        assert!(format!("{:#}", parse(&bad_nesting, "x/y").err().expect("refused")).contains("block b"));
        assert!(parse(&doc(json!({"block": {}})), "other/address").is_err());
        assert!(parse(&json!({"format_version": "0.1"}), "x/y").is_err());
    }
}
