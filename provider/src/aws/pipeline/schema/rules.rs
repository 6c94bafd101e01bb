//! What AWS (or the pipeline) accepts as the value of one setting, as
//! plain functions: the schema names them as its attributes' validators,
//! so they run at validation with the diagnostic on the attribute.

use std::time::Duration;

use crate::tfplugin::TextRule;

/// The longest pipeline name: every AWS object is named after it.
pub const NAME_MAX: usize = 64;

/// `Ok` when the value passes, else the refusal's detail.
fn passes(ok: bool, detail: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(detail()) }
}

pub const PIPELINE_NAME: TextRule = TextRule {
    summary: "Invalid pipeline name",
    // An empty name is Terraform's to refuse (it is required).
    check: |name| {
        passes(name.is_empty() || valid_name(name), || {
            format!("{name:?}: 1 to {NAME_MAX} letters, digits, '-' and '_', starting with a letter.")
        })
    },
};

pub const FILE_SYSTEM_ID: TextRule = TextRule {
    summary: "Invalid file system id",
    check: |id| passes(id.starts_with("fs-"), || format!("{id:?} is not an EFS id (fs-...).")),
};

pub const ROOT_DIRECTORY: TextRule = TextRule {
    summary: "Invalid root_directory",
    check: |root| {
        check_efs_root_directory(root).map_err(|why| {
            format!(
                "{root:?} {why}. EFS access points take \"/\" or 1 to 4 components, each non-empty, not starting with '.', without $#<>;`|&?{{}}^*, at most 100 characters."
            )
        })
    },
};

pub const PERMISSIONS: TextRule = TextRule {
    summary: "Invalid permissions",
    check: |p| {
        let octal = (3..=4).contains(&p.len()) && p.bytes().all(|b| (b'0'..=b'7').contains(&b));
        passes(octal, || format!("{p:?} is not an octal mode like \"0750\"."))
    },
};

pub const MOUNT_PATH: TextRule = TextRule {
    summary: "Invalid mount_path",
    check: |m| {
        let absolute = m.starts_with('/') && m != "/" && !m.contains("..");
        passes(absolute, || format!("{m:?} must be an absolute path other than /."))
    },
};

pub const BUCKET_NAME: TextRule = TextRule {
    summary: "Invalid bucket name",
    check: |name| {
        passes(name.is_empty() || valid_bucket_name(name), || {
            format!("{name:?}: 3-63 lowercase letters, digits, '.' and '-'.")
        })
    },
};

pub const KEY_PREFIX: TextRule = TextRule {
    summary: "Invalid prefix",
    check: |prefix| {
        let relative = !prefix.starts_with('/') && !prefix.split('/').any(|p| p == "..");
        passes(relative, || format!("{prefix:?} must be a relative key prefix without '..'."))
    },
};

/// An SQS queue URL as SQS returns it (`https://sqs.<region>.amazonaws.com/<account>/<name>`,
/// or a local stand-in's `http://...`): prep receives from it as given.
pub const QUEUE_URL: TextRule = TextRule {
    summary: "Invalid queue URL",
    check: |url| {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.rsplit('/').next().is_some_and(|name| !name.is_empty())
            && !url.contains(char::is_whitespace);
        passes(ok, || {
            format!("{url:?} is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>).")
        })
    },
};

/// A CloudWatch Logs group name: 1-512 of letters, digits, `_ - / . #`.
pub const LOG_GROUP_NAME: TextRule = TextRule {
    summary: "Invalid log group name",
    check: |name| {
        let ok = (1..=512).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-/.#".contains(&b));
        passes(ok, || {
            format!("{name:?}: 1-512 letters, digits, '_', '-', '/', '.' and '#' (a CloudWatch Logs group).")
        })
    },
};

pub const IMAGE: TextRule = TextRule {
    summary: "Empty image",
    check: |image| passes(!image.trim().is_empty(), || "image must name a container image.".into()),
};

pub const DURATION: TextRule = TextRule {
    summary: "Invalid duration",
    check: |text| {
        passes(parse_duration(text).is_some(), || {
            format!("{text:?} is not a duration like \"30m\", \"1h\" or \"90s\".")
        })
    },
};

fn valid_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An access point's root directory as EFS's model states it (`Path`: at
/// most 100 characters, pattern `^(\/|(\/(?!\.)+[^$#<>;`|&?{}^*/\n]+){1,4})$`).
pub fn check_efs_root_directory(path: &str) -> Result<(), &'static str> {
    if path.len() > 100 {
        return Err("is longer than 100 characters");
    }
    if path == "/" {
        return Ok(());
    }
    let Some(rest) = path.strip_prefix('/') else { return Err("is not absolute") };
    let components: Vec<&str> = rest.split('/').collect();
    if components.len() > 4 {
        return Err("has more than 4 components");
    }
    for c in components {
        if c.is_empty() {
            return Err("has an empty component (a trailing '/' or '//')");
        }
        if c.starts_with('.') {
            return Err("has a component starting with '.'");
        }
        if c.chars().any(|ch| "$#<>;`|&?{}^*\n".contains(ch)) {
            return Err("has a character EFS refuses");
        }
    }
    Ok(())
}

fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..")
}

/// Parses "90s", "30m", "1h", "1h30m".
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
    }
    (digits.is_empty() && total > 0).then(|| Duration::from_secs(total))
}
