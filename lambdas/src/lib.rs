//! Handlers for the prep and watcher Lambda functions.
