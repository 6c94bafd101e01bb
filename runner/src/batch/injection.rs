//! Failures injected into the local jobs (tests and demos): `--inject-failure STAGE:INDEX:EXIT[:TIMES]`.

/// A failure to inject (tests): `stage:index:exit[:times]`.
#[derive(Debug, Clone)]
pub struct Injection {
    pub stage: String,
    pub index: u32,
    pub exit: i32,
    pub times: u32,
}

impl std::str::FromStr for Injection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let p: Vec<&str> = s.split(':').collect();
        let bad = || format!("{s:?}: expected STAGE:INDEX:EXIT[:TIMES]");
        if p.len() < 3 || p.len() > 4 {
            return Err(bad());
        }
        Ok(Injection {
            stage: p[0].to_string(),
            index: p[1].parse().map_err(|_| bad())?,
            exit: p[2].parse().map_err(|_| bad())?,
            times: p.get(3).map(|t| t.parse()).transpose().map_err(|_| bad())?.unwrap_or(u32::MAX),
        })
    }
}
