//! `tags_all`: a resource's own `tags` merged over the provider's `default_tags`.

use std::collections::BTreeMap;

use crate::tfplugin::Value;

/// The tags to apply: defaults first, the resource's own winning.
pub fn merged(defaults: &BTreeMap<String, String>, own: &Value) -> BTreeMap<String, String> {
    let mut tags = defaults.clone();
    if let Some(entries) = own.entries() {
        for (k, v) in entries {
            if let Some(s) = v.as_str() {
                tags.insert(k.clone(), s.to_string());
            }
        }
    }
    tags
}

/// A tag map as a Terraform map value.
pub fn to_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Map(tags.iter().map(|(k, v)| (k.clone(), Value::string(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_tags_win() {
        let defaults =
            BTreeMap::from([("team".to_string(), "a".to_string()), ("env".to_string(), "dev".to_string())]);
        let own = Value::Map([("team".to_string(), Value::string("b"))].into());
        let m = merged(&defaults, &own);
        assert_eq!(m["team"], "b");
        assert_eq!(m["env"], "dev");
    }
}
