//! Which names a node's data files may have: the stages write their own
//! files beside and after them, and a data name must not collide with
//! those or with another data name. Shared by procurement (which refuses
//! a slice) and prep (which refuses a listing before any job runs).

use std::collections::BTreeSet;

use crate::atomic::is_temp_name;

/// The per-node manifest egress writes last, among the node's results.
pub const MANIFEST_NAME: &str = "_manifest.json";

/// Processing writes `<name>.rejects.jsonl` and `<name>.stats.json` beside
/// each result `<name>`: a data name ending so would be overwritten by,
/// or overwrite, another file's.
pub const RESERVED_SUFFIXES: [&str; 2] = [".rejects.jsonl", ".stats.json"];

/// Refuses data names (relative paths under `data/`) that clash: with each
/// other (the same name twice, or a name that is also a directory of
/// another: `a` and `a/b`), with processing's outputs, with egress's
/// manifest, or with the temporary names of atomic writes. The message
/// names the first offending name.
pub fn check_data_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for name in names {
        let file = name.rsplit('/').next().unwrap_or(name);
        if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|s| file.ends_with(*s)) {
            return Err(format!("data name {name:?} ends with {suffix:?}, which processing's outputs use"));
        }
        if file == MANIFEST_NAME || is_temp_name(file) {
            return Err(format!("data name {name:?} is reserved for the pipeline's own files"));
        }
        if !seen.insert(name) {
            return Err(format!("data name {name:?} appears twice"));
        }
    }
    for name in &seen {
        for (at, _) in name.match_indices('/') {
            let dir = &name[..at];
            if seen.contains(dir) {
                return Err(format!("data name {dir:?} is also the directory of {name:?}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clashing_names_are_refused_and_others_pass() {
        assert!(check_data_names(["a.csv", "b/a.csv", "b/c/d.csv", "a.csv.bak"]).is_ok());
        let err = |names: &[&str]| check_data_names(names.iter().copied()).unwrap_err();
        assert!(err(&["a", "a"]).contains("appears twice"));
        assert!(err(&["x/y.csv", "x"]).contains("\"x\" is also the directory of \"x/y.csv\""));
        assert!(err(&["d/a.csv.rejects.jsonl"]).contains("processing's outputs"));
        assert!(err(&["a.stats.json"]).contains("processing's outputs"));
        assert!(err(&["_manifest.json"]).contains("reserved"));
        assert!(err(&["s/.a.csv.tmp-1-0"]).contains("reserved"));
    }
}
