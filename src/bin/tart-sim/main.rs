//! tart-sim: a stand-in for Cirrus Labs' `tart`, following `shared/tart-cli.md`.
fn main() {}
