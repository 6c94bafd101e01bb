//! Sudden death mid-apply (issue 19, scenario 2): an apply, and a destroy,
//! of `batch_pipeline` with the provider process SIGKILLed, or Terraform
//! itself, at a moment drawn from a seed. Terraform's state then misses
//! what was made after its last write, or still holds what was deleted.
//! The next `terraform apply` must converge to exactly the configuration
//! (the provider adopts what it finds by its deterministic names: no
//! second file system, queue or compute environment), and the next
//! `terraform destroy` must leave nothing.
//!
//! `make test` runs `KILL_POINTS` (default 2) kills of each kind; `make
//! chaos` 20 (`KILL_SEED` picks the moments).

mod chaos_common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chaos_common::{Aws, Inventory, config, converge, env_or, provider_dir};
use testkit::faults::seeded_unit;
use testkit::{MotoServer, TerraformDir};

/// The pids of `root`'s descendants whose command line names the provider.
fn providers_under(root: u32) -> Vec<u32> {
    let mut parent_of = std::collections::HashMap::new();
    let mut providers = vec![];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
        let ppid =
            stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse().ok());
        if let Some(ppid) = ppid {
            parent_of.insert(pid, ppid);
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("terraform-provider-batch") {
            providers.push(pid);
        }
    }
    providers
        .into_iter()
        .filter(|pid| {
            let mut p = *pid;
            for _ in 0..8 {
                match parent_of.get(&p) {
                    Some(&pp) if pp == root => return true,
                    Some(&pp) if pp > 1 => p = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Victim {
    Provider,
    Terraform,
}

/// Starts `terraform args`, and after `delay` SIGKILLs the victim (the
/// provider: at the first moment from then on that one runs); waits for
/// Terraform. Returns whether a kill landed before the command ended.
fn killed_at(tf: &TerraformDir, args: &[&str], delay: Duration, victim: Victim) -> bool {
    let mut child: Child = tf.command(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let root = child.id();
    let deadline = Instant::now() + delay;
    let mut providers = vec![];
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if Instant::now() >= deadline {
            providers = providers_under(root);
            if victim == Victim::Terraform || !providers.is_empty() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    match victim {
        Victim::Provider => {
            for pid in &providers {
                let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        Victim::Terraform => {
            let _ = child.kill();
        }
    }
    let _ = child.wait();
    if victim == Victim::Terraform {
        // A provider whose Terraform died finishes the call in hand and is
        // left with nobody to serve. Given a moment, then stopped here, so
        // no test leaves a process behind.
        std::thread::sleep(Duration::from_secs(2));
        for pid in providers {
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_and_destroy_killed_at_any_moment_converge_on_the_next_run() {
    let points: u64 = env_or("KILL_POINTS", 2);
    let seed: u64 = env_or("KILL_SEED", 1);
    let moto = MotoServer::start().expect("moto");
    let net = moto.pipeline_prerequisites().expect("prerequisites");
    let aws = Aws::new(&moto);
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), moto.endpoint()));

    // How long a clean apply and destroy take: the kills land within them.
    let tf = TerraformDir::new(provider_dir(), env.clone()).expect("terraform dir");
    tf.write("main.tf", &config(&net)).unwrap();
    let t = Instant::now();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let apply_time = t.elapsed();
    let t = Instant::now();
    tf.ok(&["destroy", "-auto-approve"]).unwrap();
    let destroy_time = t.elapsed();
    assert_eq!(aws.inventory().await, Inventory::nothing());

    let mut landed = 0;
    let mut report = vec![];
    for k in 0..points * 2 {
        let victim = if k % 2 == 0 { Victim::Provider } else { Victim::Terraform };
        let tf = TerraformDir::new(provider_dir(), env.clone()).expect("terraform dir");
        tf.write("main.tf", &config(&net)).unwrap();
        let at = apply_time.mul_f64(seeded_unit(seed, 2 * k));
        let hit = killed_at(&tf, &["apply", "-auto-approve"], at, victim);
        let retried = converge(&tf, &["apply", "-auto-approve"], 3);
        assert_eq!(
            aws.inventory().await,
            Inventory::deployed(),
            "{victim:?} killed {at:?} into apply (kill {k})"
        );
        let plan = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
        assert_eq!(plan.code, 0, "{victim:?} killed {at:?} into apply (kill {k}): plan\n{}", plan.text());

        let at_destroy = destroy_time.mul_f64(seeded_unit(seed, 2 * k + 1));
        let hit_destroy = killed_at(&tf, &["destroy", "-auto-approve"], at_destroy, victim);
        let retried_destroy = converge(&tf, &["destroy", "-auto-approve"], 3);
        assert_eq!(
            aws.inventory().await,
            Inventory::nothing(),
            "{victim:?} killed {at_destroy:?} into destroy (kill {k})"
        );
        landed += u64::from(hit) + u64::from(hit_destroy);
        report.push(format!(
            "{victim:?}: apply killed at {at:?} ({}), destroy at {at_destroy:?} ({}); failed retries {retried:?} {retried_destroy:?}",
            if hit { "landed" } else { "too late" },
            if hit_destroy { "landed" } else { "too late" }
        ));
    }
    eprintln!("clean apply {apply_time:?}, destroy {destroy_time:?}\n{}", report.join("\n"));
    assert!(landed > 0, "no kill landed while Terraform ran");
}
