//! The prep Lambda function (`bootstrap` of the prep zip).

use batch_lambdas::prep::{self, PrepDeps};

fn main() -> std::process::ExitCode {
    batch_lambdas::runtime::serve("prep", PrepDeps::from_env, |deps, event| async move {
        prep::handle(&deps, event).await
    })
}
