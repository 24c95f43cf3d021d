//! The dependency DAG of resource addresses: building, cycle reports, deterministic order,
//! dependents (for skipping after a failure) and DOT output.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Edges point from a dependency to what depends on it.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    graph: DiGraph<String, ()>,
    /// Address -> node. Hashed: every edge of a large stack looks up two addresses, and
    /// nothing iterates this map without sorting what it gets.
    index: HashMap<String, NodeIndex>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    #[error("dependency cycle: {}", .0.join(" -> "))]
    #[diagnostic(
        code(sovstack::graph::cycle),
        help("every resource in the cycle waits for the next; remove one of the references")
    )]
    Cycle(Vec<String>),
}

impl Graph {
    /// Nodes with their dependencies. Dependencies on addresses that are not nodes are
    /// ignored: they are satisfied already (unchanged resources) or checked elsewhere.
    pub fn build<'a>(nodes: impl IntoIterator<Item = (&'a str, &'a BTreeSet<String>)>) -> Self {
        let nodes: Vec<(&str, &BTreeSet<String>)> = nodes.into_iter().collect();
        let mut g = Graph::default();
        for (addr, _) in &nodes {
            g.add_node(addr);
        }
        // Duplicates are caught by a set of the edges added: `add_edge`'s own check walks the
        // dependency's edges, quadratic for a key every server uses.
        let mut added = std::collections::HashSet::new();
        for (addr, deps) in &nodes {
            let Some(&to) = g.index.get(*addr) else {
                continue;
            };
            for d in deps.iter() {
                if let Some(&from) = g.index.get(d.as_str())
                    && added.insert((from, to))
                {
                    g.graph.add_edge(from, to, ());
                }
            }
        }
        g
    }

    pub fn add_node(&mut self, addr: &str) -> NodeIndex {
        if let Some(i) = self.index.get(addr) {
            return *i;
        }
        let i = self.graph.add_node(addr.to_string());
        self.index.insert(addr.to_string(), i);
        i
    }

    /// `from` must complete before `to`; ignored when either is not a node.
    pub fn add_edge(&mut self, from: &str, to: &str) {
        if let (Some(&a), Some(&b)) = (self.index.get(from), self.index.get(to))
            && !self.graph.contains_edge(a, b)
        {
            self.graph.add_edge(a, b, ());
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains(&self, addr: &str) -> bool {
        self.index.contains_key(addr)
    }

    /// Every cycle (strongly connected component with more than one node, or a self-loop),
    /// each as its members in a walkable order starting from the smallest address.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let is_cycle =
                scc.len() > 1 || scc.first().is_some_and(|&n| self.graph.contains_edge(n, n));
            if !is_cycle {
                continue;
            }
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            let Some(&start) = scc.iter().min_by_key(|&&n| &self.graph[n]) else {
                continue;
            };
            out.push(self.walk_cycle(start, &members));
        }
        out.sort();
        out
    }

    /// Follows edges inside the component from `start` back to it, so the cycle can be shown
    /// as a path `a -> b -> c -> a`.
    fn walk_cycle(&self, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Vec<String> {
        // Breadth-first search for the shortest way from start back to start.
        let mut prev: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = BTreeSet::new();
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = self
                .graph
                .edges(n)
                .map(|e| e.target())
                .filter(|t| members.contains(t))
                .collect();
            next.sort_by_key(|&t| &self.graph[t]);
            for t in next {
                if t == start {
                    let mut path = vec![self.graph[n].clone()];
                    let mut cur = n;
                    while let Some(&p) = prev.get(&cur) {
                        path.push(self.graph[p].clone());
                        cur = p;
                    }
                    path.reverse();
                    if path.first() != Some(&self.graph[start]) {
                        path.insert(0, self.graph[start].clone());
                    }
                    return path;
                }
                if seen.insert(t) {
                    prev.insert(t, n);
                    queue.push_back(t);
                }
            }
        }
        vec![self.graph[start].clone()]
    }

    /// A topological order, ties broken by address so the same graph always gives the same
    /// order. Fails with a cycle.
    pub fn order(&self) -> Result<Vec<String>, GraphError> {
        // Indexed by node: every node of the graph is in `index`.
        let mut indegree: Vec<usize> = self
            .graph
            .node_indices()
            .map(|n| {
                self.graph
                    .edges_directed(n, petgraph::Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BTreeSet<(&str, NodeIndex)> = self
            .graph
            .node_indices()
            .filter(|n| indegree[n.index()] == 0)
            .map(|n| (self.graph[n].as_str(), n))
            .collect();
        let mut out = Vec::with_capacity(self.index.len());
        while let Some(first) = ready.iter().next().copied() {
            ready.remove(&first);
            let (name, n) = first;
            out.push(name.to_string());
            for e in self.graph.edges(n) {
                let t = e.target();
                if let Some(d) = indegree.get_mut(t.index()) {
                    *d -= 1;
                    if *d == 0 {
                        ready.insert((self.graph[t].as_str(), t));
                    }
                }
            }
        }
        if out.len() != self.index.len() {
            let cycle = self.cycles().into_iter().next().unwrap_or_default();
            return Err(GraphError::Cycle(cycle));
        }
        Ok(out)
    }

    /// Direct dependencies of a node that are nodes of this graph.
    pub fn dependencies(&self, addr: &str) -> Vec<String> {
        let Some(&n) = self.index.get(addr) else {
            return Vec::new();
        };
        let mut v: Vec<String> = self
            .graph
            .edges_directed(n, petgraph::Direction::Incoming)
            .map(|e| self.graph[e.source()].clone())
            .collect();
        v.sort();
        v
    }

    /// Everything that depends on `addr`, directly or not.
    pub fn dependents(&self, addr: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(&start) = self.index.get(addr) else {
            return out;
        };
        let mut stack = vec![start];
        while let Some(n) = stack.pop() {
            for e in self.graph.edges(n) {
                let t = e.target();
                if out.insert(self.graph[t].clone()) {
                    stack.push(t);
                }
            }
        }
        out
    }

    /// Graphviz DOT, stable order.
    pub fn dot(&self) -> String {
        let mut lines = vec![
            "digraph sovstack {".to_string(),
            "  rankdir = \"LR\";".to_string(),
        ];
        let mut names: Vec<&String> = self.index.keys().collect();
        names.sort();
        for name in names {
            lines.push(format!("  {};", quote(name)));
        }
        let mut edges: Vec<(String, String)> = self
            .graph
            .edge_references()
            .map(|e| {
                (
                    self.graph[e.source()].clone(),
                    self.graph[e.target()].clone(),
                )
            })
            .collect();
        edges.sort();
        for (a, b) in edges {
            lines.push(format!("  {} -> {};", quote(&a), quote(&b)));
        }
        lines.push("}".to_string());
        lines.join("\n") + "\n"
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_node_listed_twice_has_each_edge_once() {
        let none = BTreeSet::new();
        let on_a = BTreeSet::from(["a".to_string()]);
        let g = Graph::build([("a", &none), ("b", &on_a), ("b", &on_a)]);
        assert_eq!(g.dot().matches("\"a\" -> \"b\"").count(), 1);
        assert_eq!(g.order().unwrap(), ["a", "b"]);
    }

    fn graph(edges: &[(&str, &str)], nodes: &[&str]) -> Graph {
        let mut deps: BTreeMap<String, BTreeSet<String>> = nodes
            .iter()
            .map(|n| (n.to_string(), BTreeSet::new()))
            .collect();
        for (from, to) in edges {
            deps.entry(to.to_string())
                .or_default()
                .insert(from.to_string());
            deps.entry(from.to_string()).or_default();
        }
        Graph::build(deps.iter().map(|(k, v)| (k.as_str(), v)))
    }

    #[test]
    fn order_respects_edges_and_is_stable() {
        let g = graph(&[("a", "c"), ("b", "c"), ("c", "d")], &["e"]);
        assert_eq!(g.order().unwrap(), vec!["a", "b", "c", "d", "e"]);
        assert_eq!(
            g.dependents("a"),
            BTreeSet::from(["c".to_string(), "d".to_string()])
        );
        assert_eq!(g.dependencies("c"), vec!["a", "b"]);
    }

    #[test]
    fn cycles_are_reported_whole() {
        let g = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")], &[]);
        assert_eq!(
            g.cycles(),
            vec![vec!["a".to_string(), "b".into(), "c".into()]]
        );
        assert_eq!(
            g.order(),
            Err(GraphError::Cycle(vec!["a".into(), "b".into(), "c".into()]))
        );
    }

    #[test]
    fn dot_is_stable() {
        let g = graph(&[("server.a", "file.x[\"c.yaml\"]")], &[]);
        assert_eq!(
            g.dot(),
            "digraph sovstack {\n  rankdir = \"LR\";\n  \"file.x[\\\"c.yaml\\\"]\";\n  \"server.a\";\n  \"server.a\" -> \"file.x[\\\"c.yaml\\\"]\";\n}\n"
        );
    }

    fn arb_edges() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
        (1usize..25).prop_flat_map(|n| (Just(n), prop::collection::vec((0..n, 0..n), 0..60)))
    }

    proptest! {
        /// The order respects every edge; when there is none, a cycle exists and matches
        /// what strongly connected components say.
        #[test]
        fn order_respects_every_edge_or_reports_a_real_cycle((n, edges) in arb_edges()) {
            let names: Vec<String> = (0..n).map(|i| format!("r{i:02}")).collect();
            let pairs: Vec<(&str, &str)> = edges.iter().map(|&(a, b)| (names[a].as_str(), names[b].as_str())).collect();
            let nodes: Vec<&str> = names.iter().map(String::as_str).collect();
            let g = graph(&pairs, &nodes);
            let has_cycle_by_scc = tarjan_scc(&g.graph)
                .iter()
                .any(|c| c.len() > 1 || g.graph.contains_edge(c[0], c[0]));
            match g.order() {
                Ok(order) => {
                    prop_assert!(!has_cycle_by_scc);
                    let pos: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
                    for (a, b) in &pairs {
                        prop_assert!(pos[a] < pos[b], "{a} must come before {b}");
                    }
                    prop_assert_eq!(order.len(), n);
                }
                Err(GraphError::Cycle(cycle)) => {
                    prop_assert!(has_cycle_by_scc);
                    // The reported cycle is a real closed walk.
                    for w in 0..cycle.len() {
                        let a = &cycle[w];
                        let b = &cycle[(w + 1) % cycle.len()];
                        prop_assert!(pairs.iter().any(|(x, y)| x == a && y == b), "{a} -> {b} is not an edge");
                    }
                }
            }
        }
    }
}
