//! Cutting a text source into chunks of whole records while streaming it, so chunks can be
//! parsed in parallel: at the last newline when a block has no quote character, else at the
//! last record end found by a CSV state machine (quoted fields may hold newlines).

use std::io::Read;

/// A run of whole records and the line its first record starts on.
#[derive(Debug)]
pub(crate) struct Piece {
    pub data: Vec<u8>,
    pub first_line: u64,
}

/// Reads `input` in blocks of about `target` bytes and yields pieces that end on a record
/// boundary. `csv` selects quote-aware cutting; JSON Lines cut at newlines.
pub(crate) struct Splitter<R> {
    input: R,
    target: usize,
    csv: bool,
    carry: Vec<u8>,
    next_line: u64,
    done: bool,
}

impl<R: Read> Splitter<R> {
    pub(crate) fn new(
        input: R,
        target: usize,
        csv: bool,
        first_line: u64,
        carry: Vec<u8>,
    ) -> Splitter<R> {
        Splitter {
            input,
            target: target.max(1024),
            csv,
            carry,
            next_line: first_line,
            done: false,
        }
    }

    /// The next piece, or `None` at the end of the input.
    pub(crate) fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
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
                self.last_boundary()
            };
            match cut {
                Some(cut) if cut > 0 => {
                    let rest = self.carry.split_off(cut);
                    let data = std::mem::replace(&mut self.carry, rest);
                    let first_line = self.next_line;
                    self.next_line += memchr::memchr_iter(b'\n', &data).count() as u64;
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
    fn last_boundary(&self) -> Option<usize> {
        let buf = &self.carry;
        if !self.csv || memchr::memchr(b'"', buf).is_none() {
            return memchr::memrchr(b'\n', buf).map(|i| i + 1);
        }
        let mut rdr = csv_core::Reader::new();
        let mut out = vec![0u8; 1 << 16];
        let mut ends = vec![0usize; 1024];
        let mut pos = 0;
        let mut last = None;
        loop {
            let (res, nin, _, _) = rdr.read_record(&buf[pos..], &mut out, &mut ends);
            pos += nin;
            match res {
                csv_core::ReadRecordResult::Record => last = Some(pos),
                csv_core::ReadRecordResult::OutputFull
                | csv_core::ReadRecordResult::OutputEndsFull => {}
                csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => break,
            }
        }
        // A record "ends" at the end of the buffer only because input ran out; it may go on.
        last.filter(|&p| p < buf.len() || buf.last() == Some(&b'\n'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, target: usize, csv: bool) -> Vec<(String, u64)> {
        let mut s = Splitter::new(text.as_bytes(), target, csv, 2, Vec::new());
        s.target = target;
        let mut out = Vec::new();
        while let Some(p) = s.next_piece().unwrap() {
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
        let long = format!("x,\"{}\"\n", "y\n".repeat(2000));
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
}
