//! The local runner's ASL loader on arbitrary bytes (`--definition` takes
//! any file). It promises to refuse, before a run starts, anything it
//! cannot run; so for a definition it accepts:
//! - StartAt and every transition (Next, Default, a Catcher's Next) name
//!   a state;
//! - every retry wait the interpreter can compute is a valid duration.
#![no_main]

use batch_runner::asl::{Machine, State};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(def) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(machine) = Machine::from_json(&def) else { return };
    let exists = |to: &str| {
        assert!(machine.states.contains_key(to), "accepted a transition to {to:?}, which is not a state")
    };
    exists(&machine.start_at);
    for state in machine.states.values() {
        match state {
            State::Task(task) => {
                task.next.iter().chain(task.catch.iter().map(|c| &c.next)).for_each(|n| exists(n));
                for retrier in &task.retry {
                    for tries in 0..retrier.max_attempts.min(64) {
                        let _ = retrier.delay(tries);
                    }
                }
            }
            State::Choice { choices, default } => {
                choices.iter().map(|c| &c.next).chain(default).for_each(|n| exists(n));
            }
            State::Wait { next, .. } | State::Pass { next, .. } => next.iter().for_each(|n| exists(n)),
            State::Succeed | State::Fail { .. } => {}
        }
    }
});
