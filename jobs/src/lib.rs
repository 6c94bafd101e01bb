//! The run layout on EFS and the three pipeline stages.
