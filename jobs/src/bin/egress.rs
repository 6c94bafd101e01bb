//! egress: uploads a node's results/ to the egress bucket.
fn main() {
    batch_jobs::stages::runner::main(
        batch_jobs::Stage::Egress,
        "Uploads results/ to s3://<egress.bucket>/<prefix>/<run_id>/<index>/ and writes the node manifest last.",
        batch_jobs::stages::runner::egress,
    )
}
