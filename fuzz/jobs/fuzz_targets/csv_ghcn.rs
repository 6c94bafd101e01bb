//! The CSV validator with the shipped ghcn-daily rule set, on arbitrary
//! bytes: the invariants of [`jobs_fuzz::check_csv`].
#![no_main]

use std::sync::LazyLock;

use batch_jobs::transform::csv::{CompiledRules, builtin_rule_set};
use libfuzzer_sys::fuzz_target;

/// Compiled once: compiling (its regex) per input would be most of the time.
static GHCN: LazyLock<(CompiledRules, CompiledRules)> = LazyLock::new(|| {
    let rules = builtin_rule_set("ghcn-daily").expect("the shipped rule set parses");
    jobs_fuzz::compile_both(&rules).expect("the shipped rule set compiles")
});

fuzz_target!(|data: &[u8]| {
    let (rules, as_data) = &*GHCN;
    jobs_fuzz::check_csv(rules, as_data, data);
});
