//! The dependency DAG of resource addresses: building, cycle diagnostics, ordered walks.
