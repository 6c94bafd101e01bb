//! processing: runs the run's transform over a node's data/.
fn main() {
    batch_jobs::stages::runner::main(
        batch_jobs::Stage::Processing,
        "Runs the transform from run.json (CSV validation or JSON-lines calculation) over data/ into results/, with rejects and stats per input.",
        batch_jobs::stages::runner::processing,
    )
}
