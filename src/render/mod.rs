//! Pure, byte-stable rendering of a `Stack` into the artifacts that land on each node.
