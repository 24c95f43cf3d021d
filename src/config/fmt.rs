//! `sovstack fmt`: canonical layout for stack files, keeping every comment.
//!
//! The formatter works on lines with a small lexer that knows strings (with `${...}`
//! interpolations), comments and heredocs, so it only ever changes whitespace: indentation
//! (two spaces per nesting level), `=` alignment within runs of one-line attributes, spacing
//! around `=`, trailing whitespace and runs of blank lines. As a guard, the result must parse
//! to the same structure as the input, or formatting is refused.

use hcl_edit::parser::parse_body;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FmtError {
    #[error("cannot format: the file does not parse ({0})")]
    #[diagnostic(
        code(sovstack::fmt::syntax),
        help("run `sovstack validate` to see where")
    )]
    Syntax(String),
    #[error(
        "formatting would change the meaning of the file; refusing (this is a bug in sovstack fmt)"
    )]
    #[diagnostic(code(sovstack::fmt::changed))]
    Changed,
}

/// Lexer state carried from one line to the next.
#[derive(Debug, Default, Clone)]
struct Lex {
    /// Inside `/* ... */`.
    block_comment: bool,
    /// Terminator of the heredoc we are inside.
    heredoc: Option<String>,
    /// Stack of open contexts: `{`, `[`, `(` in code, `"` for strings, `$` for interpolations.
    stack: Vec<char>,
    /// Indentation levels: one per line that left brackets open, with how many it left open
    /// (`[{` on one line is one level, as `terraform fmt` has it).
    levels: Vec<usize>,
    /// Brackets opened on the current line and not yet closed.
    line_open: usize,
    /// Levels closed by the closers at the very start of the current line.
    leading_dedent: usize,
    /// Whether the current line has had anything but closers yet.
    line_content: bool,
}

impl Lex {
    fn depth(&self) -> usize {
        self.levels.len()
    }

    fn open(&mut self, c: char) {
        self.stack.push(c);
        self.line_open += 1;
        self.line_content = true;
    }

    fn close(&mut self) {
        self.stack.pop();
        if self.line_open > 0 {
            self.line_open -= 1;
        } else if let Some(top) = self.levels.last_mut() {
            *top -= 1;
            if *top == 0 {
                self.levels.pop();
                if !self.line_content {
                    self.leading_dedent += 1;
                }
            }
        }
    }

    fn begin_line(&mut self) {
        self.line_open = 0;
        self.leading_dedent = 0;
        self.line_content = false;
    }

    fn end_line(&mut self) {
        if self.line_open > 0 {
            self.levels.push(self.line_open);
        }
        self.line_open = 0;
    }

    fn in_string(&self) -> bool {
        self.stack.last() == Some(&'"')
    }
}

/// What one line is, after lexing.
struct Line {
    text: String,
    /// Depth before the line's first token.
    depth_before: usize,
    /// Leading closers (`}`, `]`, `)`) at the start of the line.
    leading_closers: usize,
    /// Raw line (heredoc body or inside a string/comment continuing from before): untouched.
    raw: bool,
    /// `key = value` entirely on this line at depth_before, with the `=` byte offset.
    attr_eq: Option<usize>,
    /// The line opened something it did not close (multi-line value or block).
    opens: bool,
}

pub fn format(src: &str) -> Result<String, FmtError> {
    let before = parse_body(src).map_err(|e| FmtError::Syntax(e.message().to_string()))?;
    let lines = lex_lines(src);
    let out = layout(&lines);
    let after = parse_body(&out).map_err(|_| FmtError::Changed)?;
    let a: hcl::Body = before.into();
    let b: hcl::Body = after.into();
    if a != b {
        return Err(FmtError::Changed);
    }
    Ok(out)
}

fn lex_lines(src: &str) -> Vec<Line> {
    let mut st = Lex::default();
    let mut out = Vec::new();
    for raw_line in src.lines() {
        if let Some(term) = &st.heredoc {
            if raw_line.trim() == term {
                st.heredoc = None;
                out.push(line_from(
                    raw_line.trim(),
                    &st,
                    st.depth(),
                    0,
                    false,
                    None,
                    false,
                ));
            } else {
                out.push(raw(raw_line, &st));
            }
            continue;
        }
        if st.block_comment || st.in_string() {
            let depth = st.depth();
            st.begin_line();
            scan(raw_line, &mut st);
            st.end_line();
            let mut l = raw(raw_line, &st);
            l.depth_before = depth;
            out.push(l);
            continue;
        }
        let trimmed = raw_line.trim();
        let depth_before = st.depth();
        let eq = top_level_eq(trimmed);
        st.begin_line();
        scan(trimmed, &mut st);
        let leading_closers = st.leading_dedent;
        let opens = st.line_open > 0;
        st.end_line();
        let is_attr = eq.is_some()
            && !opens
            && st.depth() == depth_before
            && st.heredoc.is_none()
            && !st.in_string();
        out.push(line_from(
            trimmed,
            &st,
            depth_before,
            leading_closers,
            false,
            if is_attr { eq } else { None },
            opens || st.heredoc.is_some(),
        ));
    }
    out
}

fn raw(text: &str, st: &Lex) -> Line {
    Line {
        text: text.to_string(),
        depth_before: st.depth(),
        leading_closers: 0,
        raw: true,
        attr_eq: None,
        opens: false,
    }
}

fn line_from(
    text: &str,
    _st: &Lex,
    depth_before: usize,
    leading_closers: usize,
    raw: bool,
    attr_eq: Option<usize>,
    opens: bool,
) -> Line {
    Line {
        text: text.to_string(),
        depth_before,
        leading_closers,
        raw,
        attr_eq,
        opens,
    }
}

/// The byte offset of `=` separating an attribute's key from its value, if the line starts
/// with `identifier =` (not `==`, not a for expression's `=>`, not inside anything).
fn top_level_eq(line: &str) -> Option<usize> {
    let key_end = line
        .char_indices()
        .find(|(_, c)| {
            !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '"' || *c == '.')
        })
        .map_or(line.len(), |(i, _)| i);
    if key_end == 0 {
        return None;
    }
    let rest = &line[key_end..];
    let ws = rest.len() - rest.trim_start().len();
    let after = &rest[ws..];
    (after.starts_with('=') && !after.starts_with("==") && !after.starts_with("=>"))
        .then_some(key_end + ws)
}

/// Advances the lexer over one line (comments end at the line's end).
fn scan(line: &str, st: &mut Lex) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if st.block_comment {
            if c == '*' && next == Some('/') {
                st.block_comment = false;
                i += 2;
                continue;
            }
            i += 1;
            continue;
        }
        if st.in_string() {
            match c {
                '\\' => i += 2,
                '"' => {
                    st.stack.pop();
                    i += 1;
                }
                '$' | '%' if next == Some('{') => {
                    st.stack.push('$');
                    i += 2;
                }
                _ => i += 1,
            }
            continue;
        }
        match c {
            '#' => return,
            '/' if next == Some('/') => return,
            '/' if next == Some('*') => {
                st.block_comment = true;
                i += 2;
            }
            '"' => {
                st.stack.push('"');
                st.line_content = true;
                i += 1;
            }
            '{' | '[' | '(' => {
                if st.stack.contains(&'$') {
                    // Brackets inside an interpolation do not indent.
                    st.stack.push(c);
                } else {
                    st.open(c);
                }
                i += 1;
            }
            '}' if st.stack.last() == Some(&'$') => {
                st.stack.pop();
                i += 1;
            }
            '}' | ']' | ')' => {
                if matches!(st.stack.last(), Some('{') | Some('[') | Some('(')) {
                    if st.stack.contains(&'$') {
                        st.stack.pop();
                    } else {
                        st.close();
                    }
                }
                i += 1;
            }
            '<' if next == Some('<') => {
                let rest: String = chars[i + 2..].iter().collect();
                let rest = rest.strip_prefix('-').unwrap_or(&rest);
                let term: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !term.is_empty() {
                    st.heredoc = Some(term);
                    return;
                }
                i += 2;
            }
            c => {
                if !c.is_whitespace() {
                    st.line_content = true;
                }
                i += 1;
            }
        }
    }
}

fn layout(lines: &[Line]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    let mut blank_run = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.raw {
            out.push(l.text.trim_end().to_string());
            blank_run = 0;
            i += 1;
            continue;
        }
        if l.text.is_empty() {
            blank_run += 1;
            // One blank line at most, and none right after an opening or before a closing brace.
            let prev_opens = out.last().is_some_and(|p| p.trim_end().ends_with('{'));
            let next_closes = lines
                .get(i + 1)
                .is_some_and(|n| !n.raw && n.text.starts_with('}'));
            if blank_run == 1 && !out.is_empty() && !prev_opens && !next_closes {
                out.push(String::new());
            }
            i += 1;
            continue;
        }
        blank_run = 0;
        if l.attr_eq.is_some() {
            // A run of one-line attributes at the same depth: align their `=`.
            let depth = l.depth_before;
            let mut j = i;
            while j < lines.len()
                && !lines[j].raw
                && lines[j].attr_eq.is_some()
                && lines[j].depth_before == depth
            {
                j += 1;
                if lines[j - 1].opens {
                    break;
                }
            }
            let width = lines[i..j]
                .iter()
                .filter_map(|x| x.attr_eq.map(|eq| x.text[..eq].trim_end().chars().count()))
                .max()
                .unwrap_or(0);
            for x in &lines[i..j] {
                out.push(attribute_line(
                    depth,
                    &x.text,
                    x.attr_eq.unwrap_or(0),
                    width,
                ));
            }
            i = j;
            continue;
        }
        let depth = l.depth_before.saturating_sub(l.leading_closers);
        // An attribute whose value goes on (`labels={`, `text=<<-EOT`): one space each side of
        // its `=`, as for one-line attributes (it takes no part in their alignment).
        match top_level_eq(&l.text).filter(|_| l.leading_closers == 0) {
            Some(eq) => out.push(attribute_line(depth, &l.text, eq, 0)),
            None => out.push(format!("{}{}", "  ".repeat(depth), l.text)),
        }
        i += 1;
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// `key = value` at `depth`, the key padded to `width` characters (to align a run of `=`).
fn attribute_line(depth: usize, text: &str, eq: usize, width: usize) -> String {
    let key = text[..eq].trim_end();
    let value = text[eq + 1..].trim_start();
    let pad = width.saturating_sub(key.chars().count());
    format!("{}{key}{} = {value}", "  ".repeat(depth), " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_aligns_and_keeps_comments() {
        let src = "# top\nstack \"x\" {\n}\nserver \"a\" {\n# the type\nserver_type=\"cx22\"\n    location = \"fsn1\" # inline\n\n\n\n  labels = {\n  role = \"x\"\n  }\n}\n";
        let out = format(src).unwrap();
        assert_eq!(
            out,
            "# top\nstack \"x\" {\n}\nserver \"a\" {\n  # the type\n  server_type = \"cx22\"\n  location    = \"fsn1\" # inline\n\n  labels = {\n    role = \"x\"\n  }\n}\n"
        );
        assert_eq!(format(&out).unwrap(), out, "idempotent");
    }

    #[test]
    fn heredocs_and_strings_are_untouched() {
        let src = "locals {\nx = <<-EOT\n   keep   this\n      {\n   EOT\ny = \"a { b\"\n}\n";
        let out = format(src).unwrap();
        assert!(out.contains("   keep   this\n      {\n"));
        assert!(out.contains("  y = \"a { b\""));
        assert_eq!(format(&out).unwrap(), out);
    }

    #[test]
    fn the_reference_stack_is_formatted() {
        let src = include_str!("../../stack.hcl");
        assert_eq!(format(src).unwrap(), src, "run `sovstack fmt` on stack.hcl");
    }

    #[test]
    fn attributes_that_open_a_value_get_one_space_around_their_equals() {
        let src = "locals {\n  a={\n    b=1\n  }\n  c   =   <<-EOT\n    x\n  EOT\n  d  =[\n    1,\n  ]\n}\n";
        assert_eq!(
            format(src).unwrap(),
            "locals {\n  a = {\n    b = 1\n  }\n  c = <<-EOT\n    x\n  EOT\n  d = [\n    1,\n  ]\n}\n"
        );
    }

    #[test]
    fn a_for_expression_arrow_on_its_own_line_is_not_an_attribute() {
        let src = "locals {\n  m = {\n    for k, v in var.x :\n    k => v\n  }\n  n = 1\n}\n";
        assert_eq!(format(src).unwrap(), src);
    }

    #[test]
    fn invalid_input_is_refused() {
        assert!(matches!(format("a = {"), Err(FmtError::Syntax(_))));
    }
}
