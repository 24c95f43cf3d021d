//! The `<service>.env` file that carries a service's secrets (mode 0600, never in compose.yaml).
//!
//! Compose's dotenv parser reads a single-quoted value literally: no `$` interpolation, no
//! escapes, newlines kept. It has no way to write a `'` inside one, and a value ending in `\`
//! would escape the closing quote, so such values are refused rather than mangled.

use super::error::RenderError;

pub const REDACTED: &str = "(sensitive)";

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// `KEY='value'` lines sorted by key.
pub fn render(service: &str, entries: &[(String, String)]) -> Result<String, RenderError> {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from("# Written by sovstack. Secrets: keep this file mode 0600.\n");
    for (k, v) in sorted {
        if !valid_name(k) {
            return Err(RenderError::InvalidEnvName {
                service: service.to_string(),
                name: k.clone(),
            });
        }
        let reason = if v.contains('\'') {
            Some("it contains a single quote")
        } else if v.ends_with('\\') {
            Some("it ends with a backslash")
        } else if v.contains('\0') {
            Some("it contains a NUL byte")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(RenderError::UnrepresentableEnvValue {
                service: service.to_string(),
                env: k.clone(),
                reason,
            });
        }
        out.push_str(k);
        out.push_str("='");
        out.push_str(v);
        out.push_str("'\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn values_are_single_quoted_and_sorted() {
        let out = render("s", &[e("B", "x$HOME #y"), e("A", "p w\"d")]).unwrap();
        assert_eq!(
            out.lines().skip(1).collect::<Vec<_>>(),
            vec!["A='p w\"d'", "B='x$HOME #y'"]
        );
    }

    #[test]
    fn values_compose_cannot_read_back_are_refused() {
        for bad in ["it's", "ends\\"] {
            let err = render("signoz", &[e("K", bad)]).unwrap_err();
            assert!(
                matches!(err, RenderError::UnrepresentableEnvValue { .. }),
                "{bad}"
            );
            // The error must not echo the secret.
            assert!(!err.to_string().contains(bad));
        }
        assert!(matches!(
            render("s", &[e("1BAD", "x")]),
            Err(RenderError::InvalidEnvName { .. })
        ));
    }
}
