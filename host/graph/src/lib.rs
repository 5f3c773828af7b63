//! berth-graph
