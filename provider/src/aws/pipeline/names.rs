//! Names of the AWS objects of one pipeline, all derived from its name, so a
//! re-apply after a failed create finds (adopts) what exists instead of
//! making duplicates.

pub const NAME_TAG: &str = "batch-pipeline:name";

/// EFS's limit for a file system's CreationToken and an access point's
/// ClientToken (the service model's `max: 64`).
pub const EFS_TOKEN_MAX: usize = 64;

pub struct Names {
    pub pipeline: String,
}

impl Names {
    pub fn new(pipeline: &str) -> Self {
        Names { pipeline: pipeline.to_string() }
    }
    pub fn compute_environment(&self) -> String {
        format!("{}-ce", self.pipeline)
    }
    /// The queue procurement is submitted to.
    pub fn job_queue(&self) -> String {
        format!("{}-queue", self.pipeline)
    }
    /// The higher-priority queue processing and egress are submitted to,
    /// on the same compute environment. At most 83 characters (a name is
    /// at most 64), within AWS Batch's 128.
    pub fn later_stages_job_queue(&self) -> String {
        format!("{}-later-stages-queue", self.pipeline)
    }
    pub fn job_definition(&self, stage: &str) -> String {
        contract::naming::job_definition_name(&self.pipeline, stage)
    }
    /// EFS creation token: CreateFileSystem with the same token returns the
    /// existing file system instead of a second one.
    pub fn efs_creation_token(&self) -> String {
        fit_efs_token("batch-pipeline-", &self.pipeline, "")
    }
    /// The access point's Name tag and ClientToken.
    pub fn access_point(&self) -> String {
        fit_efs_token("", &self.pipeline, "-ap")
    }
}

/// `prefix + name + suffix` when that fits EFS's 64 characters, as it
/// always was for names that fit (existing pipelines keep their tokens);
/// otherwise the name is cut and a hash of the whole name keeps two long
/// names with the same beginning apart.
fn fit_efs_token(prefix: &str, name: &str, suffix: &str) -> String {
    let whole = format!("{prefix}{name}{suffix}");
    if whole.len() <= EFS_TOKEN_MAX {
        return whole;
    }
    let hash = format!("-{:08x}", fnv1a_32(name.as_bytes()));
    let keep = EFS_TOKEN_MAX - prefix.len() - suffix.len() - hash.len();
    // Pipeline names are ASCII (validated), so a byte cut is a char cut.
    let cut = name.get(..keep).unwrap_or(name);
    format!("{prefix}{cut}{suffix}{hash}")
}

/// FNV-1a, 32 bits: a stable hash (the same on every machine and release,
/// unlike std's), for telling names apart, not for security.
fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_their_old_form_when_it_fits() {
        let n = Names::new("ghcn");
        assert_eq!(n.efs_creation_token(), "batch-pipeline-ghcn");
        assert_eq!(n.access_point(), "ghcn-ap");
        let longest_old = "p".repeat(49);
        assert_eq!(Names::new(&longest_old).efs_creation_token(), format!("batch-pipeline-{longest_old}"));
    }

    #[test]
    fn long_names_get_tokens_within_efs_limits_that_stay_distinct() {
        let a = Names::new(&format!("p{}", "x".repeat(63)));
        let b = Names::new(&format!("p{}", "x".repeat(62) + "y"));
        for t in [a.efs_creation_token(), a.access_point(), b.efs_creation_token(), b.access_point()] {
            assert_eq!(t.len(), EFS_TOKEN_MAX, "{t}");
        }
        assert_ne!(a.efs_creation_token(), b.efs_creation_token());
        assert_ne!(a.access_point(), b.access_point());
        assert!(a.efs_creation_token().starts_with("batch-pipeline-pxxx"));
        assert!(a.access_point().contains("-ap-"), "{}", a.access_point());
        // Stable across releases: a changed hash would orphan file systems.
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
    }
}
