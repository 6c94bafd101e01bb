fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: batch-pipeline DEFINITION"))?;
    let def: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    batch_runner::asl::Machine::from_json(&def)?;
    Ok(())
}
