//! Cutting a text source into chunks of whole records while streaming it, so chunks can be
//! parsed in parallel: at the last line break when a block has no quote character, else at
//! the last step boundary of the CSV record rule ([`crate::records`]) — the same rule the
//! parser applies, so a chunk reads exactly as it would inside the whole file.

use std::io::Read;

use crate::records::{Ending, Field, Grammar};

/// Decides records over several lines as the parser will ([`Grammar::next`]).
pub(crate) type Valid<'a> = dyn FnMut(&[u8], &[Field]) -> bool + 'a;

/// Where a text source may be cut.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cut {
    /// JSON Lines: after any line break.
    Lines(Ending),
    /// CSV: between two steps of the record rule.
    Csv(Grammar),
}

/// A run of whole records and the line its first record starts on.
#[derive(Debug)]
pub(crate) struct Piece {
    pub data: Vec<u8>,
    pub first_line: u64,
}

/// Reads `input` in blocks of about `target` bytes and yields pieces that end on a record
/// boundary.
pub(crate) struct Splitter<R> {
    input: R,
    target: usize,
    cut: Cut,
    carry: Vec<u8>,
    next_line: u64,
    done: bool,
}

impl<R: Read> Splitter<R> {
    pub(crate) fn new(
        input: R,
        target: usize,
        cut: Cut,
        first_line: u64,
        carry: Vec<u8>,
    ) -> Splitter<R> {
        Splitter {
            input,
            target: target.max(1024),
            cut,
            carry,
            next_line: first_line,
            done: false,
        }
    }

    /// The next piece, or `None` at the end of the input. `valid` decides CSV records over
    /// several lines exactly as the parser will.
    pub(crate) fn next_piece(&mut self, valid: &mut Valid<'_>) -> std::io::Result<Option<Piece>> {
        loop {
            if self.done && self.carry.is_empty() {
                return Ok(None);
            }
            if !self.done && self.carry.len() < self.target {
                // Appends into spare capacity: no zero-filling of a fresh block each time.
                let want = self.target - self.carry.len();
                self.carry.reserve_exact(want);
                let n = (&mut self.input)
                    .take(want as u64)
                    .read_to_end(&mut self.carry)?;
                if n < want {
                    self.done = true;
                }
            }
            let cut = if self.done {
                Some(self.carry.len())
            } else {
                self.last_boundary(valid)
            };
            match cut {
                Some(cut) if cut > 0 => {
                    let rest = self.carry.split_off(cut);
                    let data = std::mem::replace(&mut self.carry, rest);
                    let first_line = self.next_line;
                    self.next_line += match self.cut {
                        Cut::Lines(ending) => Grammar { fields: 0, ending }.breaks(&data),
                        Cut::Csv(g) => g.breaks(&data),
                    };
                    return Ok(Some(Piece { data, first_line }));
                }
                _ => {
                    // One record longer than a block: read on until it ends.
                    self.target *= 2;
                }
            }
        }
    }

    /// The end of the last complete record in `carry` (which starts at a record start).
    fn last_boundary(&self, valid: &mut Valid<'_>) -> Option<usize> {
        let buf = &self.carry;
        let g = match self.cut {
            Cut::Lines(ending) => return last_break(buf, ending),
            Cut::Csv(g) => g,
        };
        if memchr::memchr(b'"', buf).is_none() {
            // Without quotes every line is a step.
            return last_break(buf, g.ending);
        }
        let cut = g.last_cut(buf, &mut Vec::new(), valid);
        (cut > 0).then_some(cut)
    }
}

/// The end of the last whole line in `buf`.
fn last_break(buf: &[u8], ending: Ending) -> Option<usize> {
    match ending {
        Ending::Lf => memchr::memrchr(b'\n', buf).map(|i| i + 1),
        Ending::Cr => {
            let i = memchr::memrchr2(b'\n', b'\r', buf)?;
            if buf[i] == b'\r' && i + 1 == buf.len() {
                // Maybe the first half of a \r\n: cut at the break before.
                memchr::memrchr2(b'\n', b'\r', &buf[..i]).map(|j| j + 1)
            } else {
                Some(i + 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, target: usize, csv: bool) -> Vec<(String, u64)> {
        let cut = if csv {
            Cut::Csv(Grammar {
                fields: 3,
                ending: Ending::Lf,
            })
        } else {
            Cut::Lines(Ending::Lf)
        };
        let mut s = Splitter::new(text.as_bytes(), target, cut, 2, Vec::new());
        s.target = target;
        let mut out = Vec::new();
        while let Some(p) = s.next_piece(&mut |_, _| true).unwrap() {
            out.push((String::from_utf8(p.data).unwrap(), p.first_line));
        }
        out
    }

    #[test]
    fn cuts_at_newlines_and_counts_lines() {
        let text: String = (0..300).map(|i| format!("row{i},x\n")).collect();
        let p = pieces(&text, 1024, true);
        assert!(p.len() > 1);
        assert_eq!(p.iter().map(|x| x.0.as_str()).collect::<String>(), text);
        let mut line = 2;
        for (data, first) in &p {
            assert_eq!(*first, line);
            assert!(data.ends_with('\n'));
            line += data.matches('\n').count() as u64;
        }
    }

    #[test]
    fn never_cuts_inside_a_quoted_newline() {
        let rec = "a,\"multi\nline\nfield\",b\n";
        let text = rec.repeat(200);
        for p in pieces(&text, 1024, true) {
            assert_eq!(
                p.0.matches('\n').count() % 3,
                0,
                "cut inside a record: {:?}",
                &p.0[..40]
            );
            assert!(p.0.starts_with("a,\""));
        }
    }

    #[test]
    fn a_record_longer_than_a_block_stays_whole() {
        let long = format!("x,\"{}\",z\n", "y\n".repeat(2000));
        let text = format!("{long}{long}");
        let p = pieces(&text, 1024, true);
        assert_eq!(p.iter().map(|x| x.0.as_str()).collect::<String>(), text);
        assert!(p.iter().all(|x| x.0.matches("x,\"").count() >= 1));
    }

    #[test]
    fn a_last_line_without_newline_is_kept() {
        let p = pieces("a,b\nc,d", 1024, true);
        assert_eq!(
            p.iter().map(|x| x.0.as_str()).collect::<String>(),
            "a,b\nc,d"
        );
    }

    #[test]
    fn a_stray_quote_does_not_hold_the_rest_of_the_file() {
        // Regression: the quote-aware cut found no record end after a stray quote and read on
        // to the end of the file, then parsed it all as one field. Now it looks at most
        // MAX_RECORD_BYTES ahead.
        let mut text = String::from("a,\"b,c\n");
        let mut i = 0;
        while text.len() < 5 * crate::records::MAX_RECORD_BYTES {
            text.push_str(&format!("{i},x,y\n"));
            i += 1;
        }
        text.push_str("\"q\",r,s\n");
        let p = pieces(&text, 4096, true);
        assert_eq!(p.iter().map(|x| x.0.as_str()).collect::<String>(), text);
        assert!(p.len() >= 3, "{} pieces", p.len());
        assert!(
            p.iter()
                .all(|x| x.0.len() <= 2 * crate::records::MAX_RECORD_BYTES)
        );
    }
}
