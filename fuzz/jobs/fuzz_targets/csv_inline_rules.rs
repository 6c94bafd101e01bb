//! The CSV validator with a rule set taken from the input: `<rule set
//! JSON>\n===\n<CSV>`. Rule sets come from run.json (written by the
//! provider from the user's configuration), so any JSON must either be
//! refused with an error or validate by the invariants of
//! [`jobs_fuzz::check_csv`].
#![no_main]

use batch_jobs::transform::csv::RuleSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((rules, data)) = jobs_fuzz::split_settings(input) else { return };
    let Ok(rules) = serde_json::from_slice::<RuleSet>(rules) else { return };
    let Some((rules, as_data)) = jobs_fuzz::compile_both(&rules) else { return };
    jobs_fuzz::check_csv(&rules, &as_data, data);
});
