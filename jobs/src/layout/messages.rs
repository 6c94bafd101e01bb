//! `nodes/<index>/prep/messages.json`: the queue messages whose objects a
//! node holds (queue-fed runs only). Prep writes it beside the slice;
//! egress deletes these messages once the node's upload succeeded.
//!
//! A message usually announces one object, so it belongs to one node; one
//! announcing several objects that landed on different nodes lists all of
//! them in `nodes`, and is deleted by whichever of those nodes' egress
//! finds every one of them done (each checks after writing its own done
//! marker, so the last to finish always sees the others).

use serde::{Deserialize, Serialize};

use crate::layout::config::LAYOUT_VERSION;

/// File name inside `prep/`.
pub const MESSAGES_JSON: &str = "messages.json";

/// The file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMessages {
    /// [`LAYOUT_VERSION`].
    pub layout_version: u32,
    /// The node.
    pub index: u32,
    /// The queue the messages were received from.
    pub queue_url: String,
    /// The messages, in receive order.
    pub messages: Vec<QueueMessage>,
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMessage {
    /// SQS's message id (logs).
    pub message_id: String,
    /// The handle of this receive: what DeleteMessage takes.
    pub receipt_handle: String,
    /// Every node holding one of the message's objects (this one included).
    pub nodes: Vec<u32>,
}

impl NodeMessages {
    /// The file for node `index`.
    pub fn new(index: u32, queue_url: &str, messages: Vec<QueueMessage>) -> Self {
        NodeMessages { layout_version: LAYOUT_VERSION, index, queue_url: queue_url.to_string(), messages }
    }
}
