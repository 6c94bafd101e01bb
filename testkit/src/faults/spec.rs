//! What to inject, and the seeded draw that decides it per request.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// The service's own throttling error (status and body as AWS sends
    /// them); the request never reaches the upstream.
    Throttle,
    /// A 500 or 503 in the service's error shape; never reaches the upstream.
    ServerError,
    /// The connection is reset once the request is read; never reaches
    /// the upstream.
    ResetBefore,
    /// The request reaches the upstream and is carried out, then the
    /// connection is reset instead of answering: the call succeeded and
    /// the client never heard.
    ResetAfter,
    /// The answer is delayed by the spec's `latency-ms`, then passed on.
    Latency,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Throttle,
        FaultKind::ServerError,
        FaultKind::ResetBefore,
        FaultKind::ResetAfter,
        FaultKind::Latency,
    ];

    /// The name in a spec and in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::ServerError => "error",
            FaultKind::ResetBefore => "reset-before",
            FaultKind::ResetAfter => "reset-after",
            FaultKind::Latency => "latency",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fault plan: a probability per kind, which requests it applies to, and
/// the seed. Written as `key=value` pairs joined by commas, e.g.
/// `seed=7,rate=0.1,services=s3+batch` or
/// `seed=1,throttle=0.05,reset-after=0.02,ops=PutObject+SubmitJob`:
/// - `seed`: the draws' seed (default 0);
/// - `throttle`, `error`, `reset-before`, `reset-after`, `latency`: each
///   kind's probability per request, 0 to 1; the first four together at
///   most 1 (a request gets at most one of them);
/// - `rate`: shorthand for the four failing kinds at `rate / 4` each;
/// - `latency-ms`: the delay a `latency` fault adds (default 200);
/// - `services`: only requests to these services (the SigV4 credential
///   scope's name: `s3`, `batch`, `elasticfilesystem`, ...), `+`-separated;
/// - `ops`: only these operations (`PutObject`, `SubmitJob`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub seed: u64,
    /// Probability per kind, in [`FaultKind::ALL`]'s order.
    pub probability: [f64; 5],
    pub latency: Duration,
    pub services: Vec<String>,
    pub operations: Vec<String>,
}

impl Default for FaultSpec {
    fn default() -> Self {
        FaultSpec {
            seed: 0,
            probability: [0.0; 5],
            latency: Duration::from_millis(200),
            services: vec![],
            operations: vec![],
        }
    }
}

impl FromStr for FaultSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut spec = FaultSpec::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) =
                pair.split_once('=').ok_or_else(|| format!("fault spec: {pair:?} is not key=value"))?;
            let probability = || -> Result<f64, String> {
                match value.parse::<f64>() {
                    Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
                    _ => Err(format!("fault spec: {key} must be a probability from 0 to 1, got {value:?}")),
                }
            };
            let list =
                || value.split('+').map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect();
            match key {
                "seed" => {
                    spec.seed =
                        value.parse().map_err(|_| format!("fault spec: seed {value:?} is not a u64"))?
                }
                "rate" => {
                    let p = probability()? / 4.0;
                    spec.probability[..4].fill(p);
                }
                "latency-ms" => {
                    let ms = value
                        .parse()
                        .map_err(|_| format!("fault spec: latency-ms {value:?} is not a number"))?;
                    spec.latency = Duration::from_millis(ms);
                }
                "services" => spec.services = list(),
                "ops" => spec.operations = list(),
                _ => match FaultKind::ALL.iter().position(|k| k.as_str() == key) {
                    Some(i) => spec.probability[i] = probability()?,
                    None => {
                        return Err(format!(
                            "fault spec: unknown key {key:?} (seed, rate, throttle, error, reset-before, reset-after, latency, latency-ms, services, ops)"
                        ));
                    }
                },
            }
        }
        let failing: f64 = spec.probability[..4].iter().sum();
        if failing > 1.0 + 1e-9 {
            return Err(format!(
                "fault spec: throttle + error + reset-before + reset-after is {failing}, more than 1"
            ));
        }
        Ok(spec)
    }
}

/// What a request gets: at most one failing kind, and maybe a delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Draw {
    pub failure: Option<FaultKind>,
    pub delayed: bool,
    /// For [`FaultKind::ServerError`]: 503 rather than 500.
    pub unavailable: bool,
}

impl FaultSpec {
    /// Whether the spec applies to a request to `service`'s `operation`.
    pub fn applies_to(&self, service: &str, operation: &str) -> bool {
        (self.services.is_empty() || self.services.iter().any(|s| s.eq_ignore_ascii_case(service)))
            && (self.operations.is_empty()
                || self.operations.iter().any(|o| o.eq_ignore_ascii_case(operation)))
    }

    /// The faults for the `nth` call (from 0) of `service`'s `operation`.
    /// Keyed by operation and its own count, not by arrival order across
    /// operations, so concurrent clients of other operations do not move
    /// which calls of this one fail: the same seed replays the same faults
    /// for the same sequence of calls.
    pub fn draw(&self, service: &str, operation: &str, nth: u64) -> Draw {
        let key = hash(self.seed, &[service.as_bytes(), b"\0", operation.as_bytes(), &nth.to_le_bytes()]);
        let failing = unit(mix(key ^ 1));
        let mut failure = None;
        let mut upto = 0.0;
        for (i, p) in self.probability[..4].iter().enumerate() {
            upto += p;
            if failing < upto {
                failure = Some(FaultKind::ALL[i]);
                break;
            }
        }
        Draw {
            failure,
            delayed: unit(mix(key ^ 2)) < self.probability[4],
            unavailable: mix(key ^ 3) & 1 == 1,
        }
    }
}

/// The `n`th number of `seed`'s sequence, uniform in [0, 1): for tests
/// that pick moments or choices from a seed (where to kill a process).
pub fn seeded_unit(seed: u64, n: u64) -> f64 {
    unit(mix(hash(seed, &[&n.to_le_bytes()])))
}

/// FNV-1a over the parts, then mixed with the seed.
fn hash(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h ^ mix(seed))
}

/// splitmix64's finaliser: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from the top 53 bits.
fn unit(z: u64) -> f64 {
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_each_key_and_names_the_bad_one() {
        let spec: FaultSpec =
            "seed=7,rate=0.2,latency=0.5,latency-ms=30,services=s3+batch,ops=PutObject".parse().unwrap();
        assert_eq!(spec.seed, 7);
        assert_eq!(spec.probability, [0.05, 0.05, 0.05, 0.05, 0.5]);
        assert_eq!(spec.latency, Duration::from_millis(30));
        assert_eq!(spec.services, ["s3", "batch"]);
        assert!(spec.applies_to("s3", "putobject") && !spec.applies_to("s3", "GetObject"));
        assert!(!spec.applies_to("elasticfilesystem", "PutObject"));
        for (bad, names) in [
            ("throttle=2", "throttle"),
            ("seed=x", "seed"),
            ("bogus=1", "bogus"),
            ("throttle", "key=value"),
            ("throttle=0.6,error=0.6", "more than 1"),
        ] {
            let e = bad.parse::<FaultSpec>().unwrap_err();
            assert!(e.contains(names), "{bad}: {e}");
        }
    }

    #[test]
    fn draws_follow_the_probabilities_and_the_seed() {
        let spec: FaultSpec = "seed=3,throttle=0.1,error=0.05,reset-after=0.05,latency=0.2".parse().unwrap();
        let n = 100_000;
        let mut counts = [0u64; 5];
        for i in 0..n {
            let d = spec.draw("s3", "PutObject", i);
            if let Some(k) = d.failure {
                counts[FaultKind::ALL.iter().position(|x| *x == k).unwrap()] += 1;
            }
            counts[4] += u64::from(d.delayed);
        }
        for (got, want) in counts.iter().zip([0.1, 0.05, 0.0, 0.05, 0.2]) {
            let share = *got as f64 / n as f64;
            assert!((share - want).abs() < 0.005, "{counts:?}");
        }
        // Same seed, same draws; another seed, others.
        let again: Vec<_> = (0..100).map(|i| spec.draw("s3", "PutObject", i)).collect();
        assert_eq!(again, (0..100).map(|i| spec.draw("s3", "PutObject", i)).collect::<Vec<_>>());
        let other = FaultSpec { seed: 4, ..spec.clone() };
        assert_ne!(again, (0..100).map(|i| other.draw("s3", "PutObject", i)).collect::<Vec<_>>());
    }
}
