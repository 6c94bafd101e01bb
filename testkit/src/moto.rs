//! moto[server] on a free loopback port, for the life of one fixture value.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::paths;

/// A running moto server bound to 127.0.0.1. Killed when dropped.
pub struct MotoServer {
    child: Child,
    addr: SocketAddr,
    log: tempfile::NamedTempFile,
}

impl MotoServer {
    /// Starts moto on a free 127.0.0.1 port and waits until it answers.
    pub fn start() -> Result<Self> {
        let bin = paths::moto_server_bin();
        if !paths::moto_installed() {
            bail!("moto is not installed: run `bash scripts/setup-tools.sh` (make test does)");
        }
        // A port the kernel just handed out and we released; moto binds it
        // right after. A collision makes the readiness check below fail loudly.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = tempfile::NamedTempFile::new()?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
            // The request recorder (used by the refresh benchmark) writes
            // here, not into the test's working directory.
            .env("MOTO_RECORDER_FILEPATH", log.path().with_extension("recording"))
            .stdin(Stdio::null())
            .stdout(log.reopen()?)
            .stderr(log.reopen()?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = MotoServer { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), log };
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!("moto exited early ({status}): {}", self.log_text());
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("moto did not listen on {} within {limit:?}", self.addr)
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL` or a provider's `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Environment that points any AWS SDK at this server with dummy credentials.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    }

    /// Where moto's request recorder writes (MOTO_RECORDER_FILEPATH): one
    /// JSON line per request while recording (see [`Self::recorder`]).
    pub fn recording_path(&self) -> std::path::PathBuf {
        self.log.path().with_extension("recording")
    }

    /// Calls moto's recorder API (`start-recording`, `stop-recording`,
    /// `reset-recording`) and returns the answer's body.
    pub fn recorder(&self, action: &str) -> Result<String> {
        use std::io::Write;
        let mut stream = TcpStream::connect(self.addr)?;
        write!(
            stream,
            "POST /moto-api/recorder/{action} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer.as_str(), ""));
        if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
            bail!("moto recorder {action}: {}", head.lines().next().unwrap_or_default());
        }
        Ok(body.to_string())
    }

    /// What moto printed so far (for failure messages).
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = self.log.reopen() {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.recording_path());
    }
}

impl MotoServer {
    /// Creates what a pipeline needs to exist beforehand in moto (VPC,
    /// subnets, security group, IAM roles) with examples/local/moto_setup.py
    /// and returns its answer: subnet_ids, security_group_ids,
    /// service_role_arn, execution_role_arn, job_role_arn.
    pub fn pipeline_prerequisites(&self) -> Result<serde_json::Value> {
        let script = paths::repo_root().join("examples").join("local").join("moto_setup.py");
        let out = Command::new(paths::tools_venv().join("bin").join("python"))
            .arg(&script)
            .args(["--endpoint", &self.endpoint()])
            .envs(self.aws_env())
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        if !out.status.success() {
            bail!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr));
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}
