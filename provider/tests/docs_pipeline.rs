//! docs/resources/pipeline.md says what the `batch_pipeline` schema
//! declares: every argument documented in its block's section and nothing
//! documented that the schema lacks, with its type, whether it is required,
//! whether it forces replacement, and its declared default; every block's
//! section says whether the block is required; the attribute reference
//! names only computed attributes and every computed-only one.

use std::collections::{BTreeMap, BTreeSet};

use provider::aws::pipeline::schema::schema;
use provider::tfplugin::schema::shown;
use provider::tfplugin::{Attribute, Block, Presence, Type};

const DOC: &str = include_str!("../../docs/resources/pipeline.md");

/// One documented argument line: its names and the parenthetical after
/// them, such as `String, Optional, Computed, forces replacement`.
#[derive(Debug)]
struct Documented {
    names: Vec<String>,
    facts: String,
    line: String,
}

const TYPE_WORDS: [&str; 6] = ["String", "Number", "Bool", "List of", "Set of", "Map of"];

/// Every "`a`, `b` (Type, ...)" in a line: names in backticks followed by
/// a parenthetical that starts with a type (which tells them apart from a
/// value such as "`ENABLED` (default)").
fn documented_in(line: &str) -> Vec<Documented> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = line[from..].find("` (") {
        let at = from + i;
        from = at + 3;
        let rest = &line[at + 3..];
        if !TYPE_WORDS.iter().any(|t| rest.starts_with(t)) {
            continue;
        }
        let Some(close) = rest.find(')') else { continue };
        // Backwards from the closing backtick: `name`, then ", `name`"...
        let mut names = Vec::new();
        let mut before = &line[..at + 1];
        while let Some(body) = before.strip_suffix('`') {
            let Some(open) = body.rfind('`') else { break };
            let name = &body[open + 1..];
            let is_name = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !is_name {
                break;
            }
            names.push(name.to_string());
            match body[..open].strip_suffix(", ") {
                Some(earlier) => before = earlier,
                None => break,
            }
        }
        names.reverse();
        if !names.is_empty() {
            found.push(Documented { names, facts: rest[..close].to_string(), line: line.to_string() });
        }
    }
    found
}

/// The argument sections: the block names each covers ("" for the
/// resource itself), whether the heading says the block is required, and
/// the arguments documented in it.
fn sections() -> Vec<(Vec<String>, Option<bool>, Vec<Documented>)> {
    let arguments = DOC
        .split("## Argument Reference")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an Argument Reference section");
    let mut out = Vec::new();
    for section in arguments.split("\n### ").skip(1) {
        let heading = section.lines().next().unwrap_or_default();
        let blocks: Vec<String> = if heading == "Top level" {
            vec![String::new()]
        } else {
            heading.split('`').skip(1).step_by(2).map(str::to_string).collect()
        };
        let required = if heading.ends_with("(Required)") {
            Some(true)
        } else if heading.ends_with("(Optional)") {
            Some(false)
        } else {
            None
        };
        let documented = section.lines().skip(1).flat_map(documented_in).collect();
        out.push((blocks, required, documented));
    }
    out
}

fn type_words(ty: &Type) -> String {
    match ty {
        Type::String => "String".into(),
        Type::Number => "Number".into(),
        Type::Bool => "Bool".into(),
        Type::List(t) => format!("List of {}", type_words(t)),
        Type::Set(t) => format!("Set of {}", type_words(t)),
        Type::Map(t) => format!("Map of {}", type_words(t)),
        other => format!("{other:?}"),
    }
}

/// 10000 as 10,000.
fn with_thousands(digits: &str) -> String {
    if digits.len() <= 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.to_string();
    }
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether the line states `default` in one of the documentation's ways:
/// "Default 40", "Default `false`", "`ENABLED` (default)".
fn states_default(line: &str, default: &str) -> bool {
    [default.to_string(), with_thousands(default)].iter().any(|d| {
        line.contains(&format!("Default {d}"))
            || line.contains(&format!("Default `{d}`"))
            || line.contains(&format!("`{d}` (default)"))
    })
}

/// Problems with one documented argument against its declaration.
fn check_argument(block: &str, attribute: &Attribute, doc: &Documented, problems: &mut Vec<String>) {
    let at = if block.is_empty() { attribute.name.clone() } else { format!("{block}.{}", attribute.name) };
    let facts: Vec<&str> = doc.facts.split([',', ';']).map(str::trim).collect();
    let ty = type_words(&attribute.ty);
    if facts.first() != Some(&ty.as_str()) {
        problems.push(format!("{at}: documented as {:?}, declared {ty}", facts.first()));
    }
    let says_required = facts.contains(&"Required");
    let says_optional = facts.contains(&"Optional");
    let required = attribute.presence == Presence::Required;
    if (says_required || says_optional) && says_required != required {
        problems
            .push(format!("{at}: documented Required = {says_required}, declared {:?}", attribute.presence));
    }
    if attribute.presence == Presence::Computed {
        problems.push(format!("{at}: computed only, documented as an argument"));
    }
    let computed_without_default =
        attribute.presence == Presence::OptionalComputed && attribute.default.is_none();
    if facts.contains(&"Computed") != computed_without_default {
        problems.push(format!("{at}: \"Computed\" documented: {}", facts.contains(&"Computed")));
    }
    if facts.contains(&"forces replacement") != attribute.force_new {
        problems.push(format!(
            "{at}: forces replacement documented: {}, declared: {}",
            !attribute.force_new, attribute.force_new
        ));
    }
    if let Some(default) = &attribute.default
        && !states_default(&doc.line, &shown(default))
    {
        problems.push(format!("{at}: the declared default {} is not stated: {}", shown(default), doc.line));
    }
}

#[test]
fn the_argument_reference_matches_the_schema() {
    let schema = schema();
    let top = &schema.block;
    let block_of = |name: &str| -> Option<&Block> {
        if name.is_empty() { Some(top) } else { top.nested(name).map(|b| &b.block) }
    };
    let mut problems = Vec::new();
    let mut documented_blocks = BTreeSet::new();
    let sections = sections();
    assert!(sections.len() >= 8, "{sections:#?}");
    for (blocks, required, documented) in &sections {
        let mut names_here = BTreeSet::new();
        for doc in documented {
            for name in &doc.names {
                names_here.insert(name.clone());
                let declared: Vec<(&String, &Attribute)> =
                    blocks.iter().filter_map(|b| Some((b, block_of(b)?.attribute(name)?))).collect();
                if declared.is_empty() {
                    problems.push(format!("{blocks:?}: {name} is documented but not in the schema"));
                }
                for (block, attribute) in declared {
                    check_argument(block, attribute, doc, &mut problems);
                }
            }
        }
        for block in blocks {
            documented_blocks.insert(block.clone());
            let Some(declared) = block_of(block) else {
                problems.push(format!("a section documents block {block:?}, which the schema lacks"));
                continue;
            };
            for a in declared.attributes.iter().filter(|a| a.presence != Presence::Computed) {
                if !names_here.contains(&a.name) {
                    let at = if block.is_empty() { a.name.clone() } else { format!("{block}.{}", a.name) };
                    problems.push(format!("{at} is not documented"));
                }
            }
            if let (Some(required), Some(nested)) = (required, top.nested(block))
                && *required != (nested.min_items > 0)
            {
                problems.push(format!(
                    "block {block}: documented required {required}, min_items {}",
                    nested.min_items
                ));
            }
        }
    }
    for b in &top.blocks {
        if !documented_blocks.contains(&b.type_name) {
            problems.push(format!("block {} has no section", b.type_name));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/resources/pipeline.md disagrees with the schema:\n{}",
        problems.join("\n")
    );
}

/// The names a list item starts with: "`a`, `b` (Map) ..." gives a, b.
fn leading_names(mut text: &str) -> Vec<String> {
    let mut names = Vec::new();
    while let Some(rest) = text.strip_prefix('`') {
        let Some(close) = rest.find('`') else { break };
        names.push(rest[..close].to_string());
        let mut after = &rest[close + 1..];
        // "`file_system_id` (in `efs`), ...": where the name lives.
        if let Some(inside) = after.strip_prefix(" (in ") {
            after = inside.split_once(')').map_or("", |(_, more)| more);
        }
        match after.strip_prefix(", ") {
            Some(more) => text = more,
            None => break,
        }
    }
    names
}

#[test]
fn the_attribute_reference_names_the_computed_attributes() {
    let schema = schema();
    let top = &schema.block;
    let reference = DOC
        .split("## Attribute Reference")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an Attribute Reference section");
    let named: BTreeSet<String> =
        reference.lines().filter(|l| l.starts_with("- ")).flat_map(|l| leading_names(&l[2..])).collect();
    let mut computed: BTreeMap<String, Presence> = BTreeMap::new();
    for a in &top.attributes {
        computed.insert(a.name.clone(), a.presence);
    }
    for b in &top.blocks {
        for a in b.block.attributes.iter().filter(|a| a.is_computed() && a.default.is_none()) {
            computed.entry(a.name.clone()).or_insert(a.presence);
        }
    }
    let mut problems = Vec::new();
    for name in &named {
        match computed.get(name) {
            Some(Presence::Computed | Presence::OptionalComputed) => {}
            _ => problems.push(format!("{name} is in the attribute reference but not a computed attribute")),
        }
    }
    for a in top.attributes.iter().filter(|a| a.presence == Presence::Computed) {
        if !named.contains(&a.name) {
            problems.push(format!("{} is computed but not in the attribute reference", a.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_line_reader_finds_names_and_skips_values() {
    let found =
        documented_in("- `posix_uid`, `posix_gid` (Number, Optional, forces replacement) Default 1000.");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].names, ["posix_uid", "posix_gid"]);
    assert_eq!(found[0].facts, "Number, Optional, forces replacement");
    assert!(documented_in("- `state` (String, Optional) `ENABLED` (default) or `DISABLED`.").len() == 1);
    assert!(states_default("Largest array, 2 to 10,000. Default 10,000.", "10000"));
    assert!(states_default("`ENABLED` (default) or `DISABLED`", "ENABLED"));
    assert!(!states_default("Default 1.", "3"));
    assert_eq!(
        leading_names("`file_system_id` (in `efs`), `file_system_arn` and more"),
        ["file_system_id", "file_system_arn"]
    );
}
