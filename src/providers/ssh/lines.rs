//! Splitting a command's output into lines as it arrives, for streaming exec.
//!
//! SSH hands output over in chunks that end anywhere: in the middle of a line, or of a UTF-8
//! character. A splitter per stream keeps the unfinished tail until its newline arrives, and
//! hands out the last line even without a newline when the stream ends.

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// One complete line of a running command's output, without its line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: OutputStream,
    pub text: String,
}

/// The longest line kept whole; a longer one is handed out in pieces of this size, so a command
/// printing without newlines cannot grow the buffer without bound.
const MAX_LINE: usize = 64 * 1024;

/// Collects chunks of one stream and yields complete lines.
#[derive(Debug)]
pub struct LineSplitter {
    stream: OutputStream,
    pending: Vec<u8>,
}

impl LineSplitter {
    pub fn new(stream: OutputStream) -> Self {
        Self {
            stream,
            pending: Vec::new(),
        }
    }

    /// Adds `chunk` and returns the lines it completed (`\n` or `\r\n` ends a line).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<OutputLine> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let rest = self.pending.split_off(end + 1);
            let line = std::mem::replace(&mut self.pending, rest);
            out.push(self.line(&line[..end]));
        }
        while self.pending.len() > MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            let piece = std::mem::replace(&mut self.pending, rest);
            out.push(self.line(&piece));
        }
        out
    }

    /// The unfinished last line, if any, once the stream has ended.
    pub fn finish(&mut self) -> Option<OutputLine> {
        if self.pending.is_empty() {
            return None;
        }
        let last = std::mem::take(&mut self.pending);
        Some(self.line(&last))
    }

    fn line(&self, bytes: &[u8]) -> OutputLine {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        OutputLine {
            stream: self.stream,
            text: String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: Vec<OutputLine>) -> Vec<String> {
        lines.into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn lines_split_across_chunks_come_out_whole() {
        let mut s = LineSplitter::new(OutputStream::Stderr);
        assert!(s.push(b"{\"id\":\"Contai").is_empty());
        assert_eq!(
            texts(s.push(b"ner a\"}\n{\"id\"")),
            ["{\"id\":\"Container a\"}"]
        );
        assert_eq!(texts(s.push(b":\"b\"}\r\n\nlast")), ["{\"id\":\"b\"}", ""]);
        let last = s.finish().unwrap();
        assert_eq!(last.text, "last");
        assert_eq!(last.stream, OutputStream::Stderr);
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn a_character_split_between_chunks_survives() {
        let mut s = LineSplitter::new(OutputStream::Stdout);
        let text = "3.2 GB – pulled\n".as_bytes();
        let cut = text.iter().position(|b| *b == 0xe2).unwrap() + 1;
        assert!(s.push(&text[..cut]).is_empty());
        assert_eq!(texts(s.push(&text[cut..])), ["3.2 GB – pulled"]);
    }

    #[test]
    fn an_endless_line_is_handed_out_in_bounded_pieces() {
        let mut s = LineSplitter::new(OutputStream::Stdout);
        let lines = s.push(&vec![b'x'; MAX_LINE * 2 + 5]);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.text.len() == MAX_LINE));
        assert_eq!(s.finish().unwrap().text.len(), 5);
    }
}
