//! Names of a pipeline's job definitions and jobs, and AWS Batch's rule for
//! them (SubmitJob's jobName, RegisterJobDefinition's jobDefinitionName: up
//! to 128 letters, digits, hyphens and underscores; a job name's first
//! character alphanumeric).

use crate::stage::{STAGE_NAMES, Stage};

/// AWS Batch's longest job (and job definition) name.
pub const MAX_JOB_NAME_LEN: usize = 128;

/// The longest id that still fits in a job name after the longest stage
/// prefix (`procurement-`).
pub const MAX_JOB_NAME_ID_LEN: usize = MAX_JOB_NAME_LEN - longest_stage_name() - 1;

const fn longest_stage_name() -> usize {
    let mut i = 0;
    let mut longest = 0;
    while i < STAGE_NAMES.len() {
        if STAGE_NAMES[i].len() > longest {
            longest = STAGE_NAMES[i].len();
        }
        i += 1;
    }
    longest
}

/// A character AWS Batch allows in a job name.
pub fn job_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// AWS Batch's rule for a job name (SubmitJob's jobName).
pub fn valid_job_name(name: &str) -> bool {
    name.len() <= MAX_JOB_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(job_name_char)
}

/// A stage's job definition: `<pipeline>-<stage>`.
pub fn job_definition_name(pipeline: &str, stage: &str) -> String {
    format!("{pipeline}-{stage}")
}

/// The stage a job definition (name, `name:revision` or ARN) runs: its
/// name ends with `-<stage>` (or `_<stage>`), or is the stage's name.
pub fn stage_of_job_definition(definition: &str) -> Option<Stage> {
    // arn:aws:batch:r:a:job-definition/<name>:<rev> | <name>:<rev> | <name>
    let name = definition.rsplit('/').next().unwrap_or(definition);
    let name = name.split(':').next().unwrap_or(name);
    Stage::ALL.into_iter().find(|s| {
        let s = s.as_str();
        name == s || name.strip_suffix(s).is_some_and(|rest| rest.ends_with(['-', '_']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_name_id_leaves_room_for_every_stage() {
        assert_eq!(MAX_JOB_NAME_ID_LEN, 116);
        for stage in STAGE_NAMES {
            let name = format!("{stage}-{}", "x".repeat(MAX_JOB_NAME_ID_LEN));
            assert!(valid_job_name(&name), "{name}");
        }
    }

    #[test]
    fn job_names_follow_aws_batch() {
        assert!(valid_job_name("procurement-2024_06_01-1a2b3c4d"));
        assert!(!valid_job_name("procurement-2024.06.01"));
        assert!(!valid_job_name(&"x".repeat(129)));
        assert!(!valid_job_name("-p"));
        assert!(!valid_job_name(""));
    }

    #[test]
    fn job_definitions_name_their_stage() {
        assert_eq!(job_definition_name("ghcn", "egress"), "ghcn-egress");
        assert_eq!(
            stage_of_job_definition("arn:aws:batch:r:1:job-definition/ghcn-egress:3"),
            Some(Stage::Egress)
        );
        assert_eq!(stage_of_job_definition("t_processing:1"), Some(Stage::Processing));
        assert_eq!(stage_of_job_definition("procurement"), Some(Stage::Procurement));
        assert_eq!(stage_of_job_definition("ghcnegress:1"), None);
        assert_eq!(stage_of_job_definition("ghcn-other"), None);
    }
}
