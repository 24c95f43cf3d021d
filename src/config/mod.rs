//! Load `stack.hcl`: parse with spans, evaluate variables, locals and functions, build the typed `Stack`.
