//! "Did you mean": the closest known name by edit distance. The one implementation used by
//! loading (unknown blocks, attributes, functions) and by the validation rules and knowledge
//! tables (flags, component types, locations).

use std::cmp::Ordering;

/// Optimal-string-alignment distance (Damerau-Levenshtein restricted to adjacent transpositions), on chars.
///
/// Transpositions count as one edit because they are the commonest typo (`lenght`, `recievers`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() {
        return b.len();
    }
    if b.is_empty() {
        return a.len();
    }
    // Three rolling rows: the transposition step looks two rows back.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(prev2[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// How many edits a "did you mean" suggestion may be away from what was written.
///
/// A third of the length (at least one edit, at most four) keeps `otel` from suggesting `otlp` while still catching
/// `--max-model-lenght`.
fn max_suggestion_distance(len: usize) -> usize {
    (len / 3).clamp(1, 4)
}

/// The candidate closest to `name`, for "did you mean" help, or `None` when nothing is close enough.
///
/// Comparison ignores ASCII case and treats `_` and `-` alike (both are common slips in flag and key names).
/// An exact match is not a suggestion. Ties go to the lexicographically smallest candidate, so the answer
/// does not depend on table order.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = normalise_for_similarity(name);
    if wanted.is_empty() {
        return None;
    }
    let limit = max_suggestion_distance(wanted.chars().count());
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let normalised = normalise_for_similarity(candidate);
        if normalised == wanted && candidate != name {
            // Same after normalisation (`MAX_model_len`): the best possible suggestion.
            return Some(candidate);
        }
        let distance = edit_distance(&wanted, &normalised);
        if distance == 0 || distance > limit {
            continue;
        }
        best = match best {
            None => Some((distance, candidate)),
            Some((d, c)) => match distance.cmp(&d) {
                Ordering::Less => Some((distance, candidate)),
                Ordering::Equal if candidate < c => Some((distance, candidate)),
                _ => Some((d, c)),
            },
        };
    }
    best.map(|(_, c)| c)
}

fn normalise_for_similarity(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// "did you mean `x`?" or "".
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates).map_or_else(String::new, |c| format!("did you mean `{c}`?"))
}

/// Help for an unknown name: "did you mean" when one is close, else the list of valid ones.
pub fn help_for_unknown<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str> + Clone,
    what: &str,
) -> String {
    let dym = did_you_mean(name, candidates.clone());
    let list: Vec<&str> = candidates.into_iter().collect();
    if !dym.is_empty() {
        dym
    } else if list.is_empty() {
        format!("there are no {what} here")
    } else {
        format!("valid {what}: {}", list.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            closest("server_tpye", ["server_type", "location"]),
            Some("server_type")
        );
        assert_eq!(closest("imgae", ["image", "ipc"]), Some("image"));
        assert_eq!(closest("zzzz", ["image", "ipc"]), None);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(
            did_you_mean("Server_Type", ["server_type"]),
            "did you mean `server_type`?"
        );
        assert_eq!(did_you_mean("zzzz", ["image"]), "");
    }

    #[test]
    fn edit_distance_counts_transposition_as_one() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("lenght", "length"), 1);
        assert_eq!(edit_distance("recievers", "receivers"), 1);
        assert_eq!(edit_distance("ca", "abc"), 3); // OSA, not unrestricted Damerau (which gives 2)
        assert_eq!(edit_distance("otlp", "otlp"), 0);
    }

    #[test]
    fn closest_suggests_within_threshold_only() {
        let flags = ["--max-model-len", "--max-num-seqs", "--model", "--port"];
        assert_eq!(
            closest("--max-model-lenght", flags),
            Some("--max-model-len")
        );
        assert_eq!(closest("--prot", flags), Some("--port"));
        assert_eq!(closest("--completely-different", flags), None);
        // Exact match is not a suggestion.
        assert_eq!(closest("--port", flags), None);
        assert_eq!(closest("", flags), None);
    }

    #[test]
    fn closest_ignores_case_and_underscore_dash() {
        assert_eq!(
            closest("--MAX_MODEL_LEN", ["--max-model-len", "--max-num-seqs"]),
            Some("--max-model-len")
        );
    }

    #[test]
    fn closest_short_names_need_near_exact_match() {
        // `otel` is two edits from `otlp`: too far for a 4-letter name.
        assert_eq!(closest("otel", ["otlp", "file", "debug"]), None);
        assert_eq!(closest("otpl", ["otlp", "file", "debug"]), Some("otlp"));
    }

    #[test]
    fn closest_breaks_ties_deterministically() {
        assert_eq!(closest("abd", ["abe", "abc"]), Some("abc"));
        assert_eq!(closest("abd", ["abc", "abe"]), Some("abc"));
    }
}
