//! JSON-lines per-record calculation.

mod calc;
mod expr;
mod number;
mod scan;

pub use calc::{CalcOptions, CalcStats, calculate_jsonl};
pub use expr::{Assignment, Calculations, Op};
pub use scan::{Kind, Member, ObjectShape, ScanError, scan_object};
