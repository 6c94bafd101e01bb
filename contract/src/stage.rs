//! The three pipeline stages, in run order.

use serde::{Deserialize, Serialize};

/// The stage names as they appear in job definition names, job names,
/// markers, run.json, the state machine's states and the resource's blocks.
pub const STAGE_NAMES: [&str; 3] = ["procurement", "processing", "egress"];

/// One of the three pipeline stages, in run order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Brings the node's input onto EFS (`prep/` -> `data/`).
    Procurement,
    /// Runs the transform (`data/` -> `results/`).
    Processing,
    /// Uploads `results/` to the egress bucket.
    Egress,
}

impl Stage {
    /// The three stages in run order.
    pub const ALL: [Stage; 3] = [Stage::Procurement, Stage::Processing, Stage::Egress];

    /// The stage name as in logs, markers and run.json.
    pub fn as_str(self) -> &'static str {
        STAGE_NAMES[self as usize]
    }

    /// The stage of that name.
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_order_and_serde_agree() {
        for (i, stage) in Stage::ALL.into_iter().enumerate() {
            assert_eq!(stage.as_str(), STAGE_NAMES[i]);
            assert_eq!(Stage::from_name(STAGE_NAMES[i]), Some(stage));
        }
        assert_eq!(Stage::from_name("Procurement"), None);
        assert!(Stage::Procurement < Stage::Processing && Stage::Processing < Stage::Egress);
    }
}
