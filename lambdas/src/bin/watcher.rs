//! The watcher Lambda function (`bootstrap` of the watcher zip).

use batch_lambdas::watcher::{self, WatcherDeps};

fn main() -> std::process::ExitCode {
    batch_lambdas::runtime::serve("watcher", WatcherDeps::from_env, |deps, event| async move {
        watcher::handle(&deps, event).await
    })
}
