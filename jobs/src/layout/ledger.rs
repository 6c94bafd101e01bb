//! The incremental ledger's shared names (docs/incremental.md): what
//! identifies an input, where its records live in the egress bucket, and
//! `nodes/<index>/prep/ledger.json`, the inputs of a node that egress
//! records as done once the node's upload succeeded.
//!
//! ```text
//! s3://<egress bucket>/<egress prefix>/_ledger/done/<id>.json    an input finished (egress)
//! s3://<egress bucket>/<egress prefix>/_ledger/claims/<id>.json  a run is working on it (prep)
//! ```
//!
//! `<id>` is the SHA-256 of the input's identity as JSON, so one input has
//! one fixed key: a conditional PutObject on it is the claim, and a
//! listing of `done/` tells prep every finished input without a request
//! per input. Run ids cannot start with `_`, so `_ledger/` never meets a
//! run's results under the same prefix.

use serde::{Deserialize, Serialize};

use crate::checksum::sha256_hex;
use crate::layout::config::LAYOUT_VERSION;

/// File name inside `prep/`.
pub const LEDGER_JSON: &str = "ledger.json";
/// The ledger's folder under the egress prefix.
pub const LEDGER_DIR: &str = "_ledger/";
/// Sub-folder of finished inputs.
pub const DONE_DIR: &str = "done/";
/// Sub-folder of claims.
pub const CLAIMS_DIR: &str = "claims/";

/// What makes an input the same input: a changed object (new ETag) or file
/// (new size or mtime) is another input, processed again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputIdentity {
    /// An S3 object: bucket, key and ETag (as S3 lists it, quotes and all).
    S3 {
        /// Bucket.
        bucket: String,
        /// Full key.
        key: String,
        /// ETag.
        etag: String,
    },
    /// An SFTP file: server, full path, size and mtime (Unix seconds).
    Sftp {
        /// Host as configured.
        host: String,
        /// Port.
        port: u16,
        /// Absolute path on the server.
        path: String,
        /// Size in bytes.
        size: u64,
        /// Modification time.
        mtime: u64,
    },
}

impl InputIdentity {
    /// The input's ledger id: SHA-256 hex of its JSON (fields in declaration
    /// order, so the same input always hashes the same).
    pub fn id(&self) -> String {
        sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

/// `<egress prefix>/_ledger/` (the egress prefix without its trailing `/`;
/// an empty prefix puts the ledger at the bucket's top).
pub fn ledger_prefix(egress_prefix: &str) -> String {
    let prefix = egress_prefix.trim_end_matches('/');
    if prefix.is_empty() { LEDGER_DIR.to_string() } else { format!("{prefix}/{LEDGER_DIR}") }
}

/// Key of input `id`'s done record.
pub fn done_key(ledger_prefix: &str, id: &str) -> String {
    format!("{ledger_prefix}{DONE_DIR}{id}.json")
}

/// Key of input `id`'s claim.
pub fn claim_key(ledger_prefix: &str, id: &str) -> String {
    format!("{ledger_prefix}{CLAIMS_DIR}{id}.json")
}

/// The id in a done record's or claim's key (`None` for anything else
/// under the folder).
pub fn id_of_key<'a>(folder: &str, key: &'a str) -> Option<&'a str> {
    let id = key.strip_prefix(folder)?.strip_suffix(".json")?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// `prep/ledger.json`: the node's inputs to record once its egress is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLedger {
    /// [`LAYOUT_VERSION`].
    pub layout_version: u32,
    /// The node.
    pub index: u32,
    /// The bucket holding the ledger (the egress bucket).
    pub bucket: String,
    /// [`ledger_prefix`] of the egress prefix.
    pub prefix: String,
    /// The node's inputs.
    pub inputs: Vec<LedgerInput>,
}

/// One input of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerInput {
    /// [`InputIdentity::id`].
    pub id: String,
    /// What it is.
    pub input: InputIdentity,
}

impl NodeLedger {
    /// The file for node `index`.
    pub fn new(index: u32, bucket: &str, prefix: &str, inputs: Vec<LedgerInput>) -> Self {
        NodeLedger {
            layout_version: LAYOUT_VERSION,
            index,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            inputs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_has_one_fixed_id_and_a_change_makes_another() {
        let object =
            |etag: &str| InputIdentity::S3 { bucket: "b".into(), key: "in/a.csv".into(), etag: etag.into() };
        assert_eq!(object("\"e1\"").id(), object("\"e1\"").id());
        assert_ne!(object("\"e1\"").id(), object("\"e2\"").id());
        let file = |size, mtime| InputIdentity::Sftp {
            host: "h".into(),
            port: 22,
            path: "/out/a.xml".into(),
            size,
            mtime,
        };
        assert_ne!(file(1, 2).id(), file(1, 3).id());
        assert_ne!(file(1, 2).id(), file(2, 2).id());
        assert_eq!(file(1, 2).id().len(), 64);
    }

    #[test]
    fn keys_live_under_the_egress_prefix_and_give_back_their_id() {
        let prefix = ledger_prefix("results/");
        assert_eq!(prefix, "results/_ledger/");
        assert_eq!(ledger_prefix(""), "_ledger/");
        let id = "ab".repeat(32);
        let done = done_key(&prefix, &id);
        assert_eq!(done, format!("results/_ledger/done/{id}.json"));
        assert_eq!(id_of_key("results/_ledger/done/", &done), Some(id.as_str()));
        assert_eq!(id_of_key("results/_ledger/done/", &claim_key(&prefix, &id)), None);
        assert_eq!(id_of_key("results/_ledger/done/", "results/_ledger/done/x.json"), None);
    }
}
