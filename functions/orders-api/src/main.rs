//! Placeholder while the handler is being written.

fn main() {}
