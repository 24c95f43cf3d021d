//! Semantic and policy checks over a loaded `Stack`; knowledge tables live here as data.
pub mod knowledge;
