//! procurement: brings a node's slice of input onto EFS.
fn main() {
    batch_jobs::stages::runner::main(
        batch_jobs::Stage::Procurement,
        "Reads runs/<run_id>/nodes/<index>/prep/slice.json and downloads the S3 objects (or generates the synthetic records) it names into data/.",
        batch_jobs::stages::runner::procurement,
    )
}
