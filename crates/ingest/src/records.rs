//! The CSV record rule, shared by the splitter and the parser so that a file cut into chunks
//! reads exactly as the whole file would: RFC 4180 records, strict about quotes, and after a
//! malformed record that spans lines, a resynchronisation at the next line that starts a
//! well-formed record — one stray quote costs the lines it garbled and no more.
//!
//! The rule is a function of the bytes, the header's field count, the file's line ending and
//! the validity of records that span lines (the splitter asks a [`crate::chunk::Validator`],
//! the parser the row it stores), and it looks at most [`MAX_RECORD_BYTES`] ahead of a
//! record's start (twice that while resynchronising), so the splitter can decide it on a
//! bounded block.
//!
//! - A physical line ends at `\n` or `\r\n` (files whose header ends in `\r\n` or `\n`), or at
//!   `\r`, `\r\n` or `\n` (files whose header ends in a lone `\r`). Line numbers count
//!   physical lines, inside quoted fields too.
//! - A line of nothing but ASCII whitespace is blank and skipped.
//! - A field is unquoted (no `"` in it, no line break; a lone `\r` in an `\n` file is
//!   malformed) or quoted: `"…"`, with `""` for a quote, line breaks allowed, and before the
//!   opening quote and after the closing one only spaces or tabs (not part of the field).
//! - A record must have the header's number of fields.
//! - A quoted field that spans lines must close within [`MAX_RECORD_BYTES`] of the record's
//!   start, and must not hold as many commas as a whole record has separators: a stray quote
//!   that swallowed whole rows is told apart from a legitimate multi-line field that way.
//! - A malformed record confined to its first line is rejected as that line. A malformed
//!   record that spans lines — or a well-formed one that fails validation, which may be a
//!   stray quote that happened to close where a record can end — is rejected together with
//!   the lines after it up to the next line where a well-formed record starts (at most
//!   [`MAX_RECORD_BYTES`] on); parsing resumes there.

/// The longest a quoted field may reach past its record's start, and the furthest a
/// malformed record's reject reaches.
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

/// How a file's lines end, decided by its header line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// `\n` or `\r\n`; a lone `\r` outside quotes is malformed.
    Lf,
    /// `\r` (old Mac exports), `\r\n` or `\n`.
    Cr,
}

/// Why a span of lines is not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    FieldCount {
        found: usize,
    },
    /// Text other than spaces after a closing quote (`"ab"cd`).
    TextAfterQuote,
    /// A `"` inside a field that does not start with one (`ab"cd`).
    QuoteInUnquoted,
    /// A lone carriage return outside quotes in a file whose lines end with `\n`.
    BareCr,
    /// A quoted field that does not close where a well-formed record can end.
    Unbalanced,
    /// A quoted field spanning lines with as many commas as a record has separators.
    Swallowed,
    /// A record over several lines that is well formed but not valid (see [`Grammar::next`]).
    Invalid,
}

impl Malformed {
    /// Words for a reject; `first` and `last` are the span's physical lines.
    pub(crate) fn describe(self, expected: usize, first: u64, last: u64) -> String {
        let span = if last > first {
            format!(" (lines {first}-{last} rejected as one)")
        } else {
            String::new()
        };
        let what = match self {
            Malformed::FieldCount { found } => format!("expected {expected} fields, found {found}"),
            Malformed::TextAfterQuote => "text after a closing quote (quote the whole field)".into(),
            Malformed::QuoteInUnquoted => {
                "quote inside an unquoted field (quote the whole field and double the quote)".into()
            }
            Malformed::BareCr => {
                "carriage return inside an unquoted field (lines of this file end with LF)".into()
            }
            Malformed::Unbalanced => {
                "unbalanced quote: the field quoted on this line does not close into a well-formed record".into()
            }
            Malformed::Swallowed => format!(
                "unbalanced quote: a quoted field spanning lines holds {} or more commas, as if it swallowed rows",
                expected.saturating_sub(1)
            ),
            Malformed::Invalid => "a record over several lines that is not valid".into(),
        };
        what + &span
    }
}

/// What one step through the data found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    Blank,
    Record,
    /// A well-formed record that validation refused: its line, or when it spans lines, its
    /// lines up to where parsing resumes ([`Grammar::next`]).
    Refused,
    Bad(Malformed),
}

/// One step: a blank line, a record (its fields in the caller's buffer) or a malformed span,
/// ending at `end` (after its line break, or at the end of the data) and covering `lines`
/// physical lines. Deciding it looked at the data before `seen` (which may lie past `end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub found: Found,
    pub end: usize,
    pub lines: u64,
    pub seen: usize,
}

/// A field of a record as a range of the data; `escaped` when it holds `""` pairs to undo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Field {
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
}

impl Field {
    /// The field's bytes, with `""` turned back into `"`.
    pub(crate) fn bytes<'a>(&self, data: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        let raw = &data[self.start..self.end];
        if !self.escaped {
            return raw.into();
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            out.push(raw[i]);
            i += if raw[i] == b'"' { 2 } else { 1 };
        }
        out.into()
    }
}

/// How far a parse that failed with `what` at `at` read: up to the bound for a quote that
/// never closed, else the byte it stopped on.
fn reach_of(what: Malformed, at: usize) -> usize {
    if what == Malformed::Unbalanced {
        at
    } else {
        at + 1
    }
}

/// The outcome of reading one record, before the field count is checked.
enum Parse {
    /// The data ends before the record can be decided.
    More,
    Ok {
        end: usize,
        multiline: bool,
        /// Commas inside quoted fields that span lines.
        commas: usize,
    },
    Err {
        what: Malformed,
        /// Where the problem was seen.
        at: usize,
        multiline: bool,
    },
}

/// The record rule for one file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grammar {
    pub fields: usize,
    pub ending: Ending,
}

impl Grammar {
    /// The step starting at `start` (a line start), or `None` when the data ends before it
    /// can be decided and more may follow (`eof` false).
    pub(crate) fn step(
        &self,
        data: &[u8],
        start: usize,
        eof: bool,
        out: &mut Vec<Field>,
    ) -> Option<Step> {
        if let Some(end) = self.blank_line(data, start, eof)? {
            return Some(Step {
                found: Found::Blank,
                end,
                lines: 1,
                seen: end,
            });
        }
        let (what, at, reach) = match self.parse_record(data, start, eof, out) {
            Parse::More => return None,
            Parse::Ok {
                end,
                multiline,
                commas,
            } => {
                let what = if out.len() != self.fields {
                    Malformed::FieldCount { found: out.len() }
                } else if multiline && self.fields >= 2 && commas >= self.fields - 1 {
                    Malformed::Swallowed
                } else {
                    return Some(Step {
                        found: Found::Record,
                        end,
                        lines: self.lines_in(&data[start..end]),
                        seen: end,
                    });
                };
                if !multiline {
                    return Some(Step {
                        found: Found::Bad(what),
                        end,
                        lines: 1,
                        seen: end,
                    });
                }
                // Seen at the record's last byte.
                (what, end - 1, end)
            }
            Parse::Err {
                what,
                at,
                multiline,
            } => {
                if !multiline {
                    let end = self.line_end(data, at, eof)?;
                    return Some(Step {
                        found: Found::Bad(what),
                        end,
                        lines: 1,
                        seen: end,
                    });
                }
                (what, at, reach_of(what, at))
            }
        };
        // A malformed record over several lines: resume at the next line that starts a
        // well-formed record.
        self.resync(data, start, eof, what, at, reach, out)
    }

    /// The step at `start` under the whole rule: [`Grammar::step`], where a well-formed
    /// record is then put to `valid` (validation, or storing it). A record over several lines
    /// that `valid` refuses may be a stray quote that happened to close where a record can
    /// end, so it is treated as malformed: parsing resumes at the next line after its start
    /// that starts a well-formed record.
    pub(crate) fn next(
        &self,
        data: &[u8],
        start: usize,
        eof: bool,
        out: &mut Vec<Field>,
        valid: &mut dyn FnMut(&[u8], &[Field]) -> bool,
    ) -> Option<Step> {
        self.next_checking(data, start, eof, out, valid, true)
    }

    /// [`Grammar::next`], asking `valid` about records on one line only when `every` (their
    /// validity does not move where the next step starts).
    fn next_checking(
        &self,
        data: &[u8],
        start: usize,
        eof: bool,
        out: &mut Vec<Field>,
        valid: &mut dyn FnMut(&[u8], &[Field]) -> bool,
        every: bool,
    ) -> Option<Step> {
        let step = self.step(data, start, eof, out)?;
        if step.found != Found::Record {
            return Some(step);
        }
        if step.lines == 1 {
            if !every || valid(data, out) {
                return Some(step);
            }
            return Some(Step {
                found: Found::Refused,
                ..step
            });
        }
        if valid(data, out) {
            return Some(step);
        }
        let at = step.end - 1;
        let step = self.resync(data, start, eof, Malformed::Invalid, at, step.end, out)?;
        Some(match step.found {
            Found::Bad(Malformed::Invalid) => Step {
                found: Found::Refused,
                ..step
            },
            _ => step,
        })
    }

    /// Where a chunk of `data` (not the end of its file) may be cut: the end of the last step
    /// decided within it such that no step before looked further. Read on its own, the chunk
    /// then gives exactly the steps it gives inside the whole file.
    pub(crate) fn last_cut(
        &self,
        data: &[u8],
        out: &mut Vec<Field>,
        valid: &mut dyn FnMut(&[u8], &[Field]) -> bool,
    ) -> usize {
        let (mut pos, mut seen, mut cut) = (0, 0, 0);
        while pos < data.len() {
            let Some(step) = self.next_checking(data, pos, false, out, valid, false) else {
                break;
            };
            seen = seen.max(step.seen);
            pos = step.end;
            if pos >= seen {
                cut = pos;
            }
        }
        cut
    }

    /// The span of a malformed record at `start` whose problem was seen at `at` (having read
    /// the data before `reach`): up to the next line after `start` where a well-formed record
    /// starts (or the bound).
    #[allow(clippy::too_many_arguments)]
    fn resync(
        &self,
        data: &[u8],
        start: usize,
        eof: bool,
        what: Malformed,
        at: usize,
        reach: usize,
        out: &mut Vec<Field>,
    ) -> Option<Step> {
        let mut seen = reach;
        let mut line = self.line_end(data, start, eof)?;
        let end = loop {
            seen = seen.max(line);
            if line >= data.len() {
                if eof {
                    break data.len();
                }
                return None;
            }
            if line - start >= MAX_RECORD_BYTES {
                break line;
            }
            if self.blank_line(data, line, eof)?.is_none() {
                match self.parse_record(data, line, eof, out) {
                    Parse::More => return None,
                    Parse::Ok {
                        end,
                        multiline,
                        commas,
                    } => {
                        seen = seen.max(end);
                        if out.len() == self.fields
                            && !(multiline && self.fields >= 2 && commas >= self.fields - 1)
                        {
                            break line;
                        }
                    }
                    Parse::Err { what, at, .. } => seen = seen.max(reach_of(what, at)),
                }
            }
            line = self.line_end(data, line, eof)?;
        };
        out.clear();
        // A problem seen at or past the resumption point means the quoted field ran over a
        // line that starts a well-formed record: most likely an unbalanced quote.
        let what = if at >= end {
            Malformed::Unbalanced
        } else {
            what
        };
        Some(Step {
            found: Found::Bad(what),
            end,
            lines: self.lines_in(&data[start..end]),
            seen,
        })
    }

    /// `Some(Some(end))` when the line at `start` is blank, `Some(None)` when it is not,
    /// `None` when the data ends first.
    #[allow(clippy::option_option)]
    fn blank_line(&self, data: &[u8], start: usize, eof: bool) -> Option<Option<usize>> {
        let mut i = start;
        while i < data.len() {
            match data[i] {
                b'\n' => return Some(Some(i + 1)),
                b'\r' => match data.get(i + 1) {
                    Some(b'\n') => return Some(Some(i + 2)),
                    None if !eof => return None,
                    _ if self.ending == Ending::Cr => return Some(Some(i + 1)),
                    _ => i += 1,
                },
                b' ' | b'\t' | b'\x0C' => i += 1,
                _ => return Some(None),
            }
        }
        if eof { Some(Some(data.len())) } else { None }
    }

    /// The end of the physical line holding `at` (after its line break), or `None` when the
    /// data ends first.
    fn line_end(&self, data: &[u8], at: usize, eof: bool) -> Option<usize> {
        let found = match self.ending {
            Ending::Lf => memchr::memchr(b'\n', &data[at..]),
            Ending::Cr => memchr::memchr2(b'\n', b'\r', &data[at..]),
        };
        let Some(j) = found.map(|j| at + j) else {
            return eof.then_some(data.len());
        };
        if data[j] == b'\n' {
            return Some(j + 1);
        }
        match data.get(j + 1) {
            Some(b'\n') => Some(j + 2),
            None if !eof => None,
            _ => Some(j + 1),
        }
    }

    /// Line breaks in `span` (a whole number of steps).
    pub(crate) fn breaks(&self, span: &[u8]) -> u64 {
        let n = match self.ending {
            Ending::Lf => memchr::memchr_iter(b'\n', span).count(),
            Ending::Cr => {
                let cr_lf = memchr::memmem::find_iter(span, b"\r\n").count();
                memchr::memchr2_iter(b'\n', b'\r', span).count() - cr_lf
            }
        };
        n as u64
    }

    /// Physical lines in `span` (a whole number of steps): its breaks, and a last line
    /// without one.
    pub(crate) fn lines_in(&self, span: &[u8]) -> u64 {
        if span.is_empty() {
            return 0;
        }
        let closed = match span.last() {
            Some(b'\n') => true,
            Some(b'\r') => self.ending == Ending::Cr,
            _ => false,
        };
        self.breaks(span) + u64::from(!closed)
    }

    /// Reads the fields of the record at `start` into `out`.
    fn parse_record(&self, data: &[u8], start: usize, eof: bool, out: &mut Vec<Field>) -> Parse {
        out.clear();
        let limit = data.len().min(start.saturating_add(MAX_RECORD_BYTES));
        let mut multiline = false;
        let mut commas = 0;
        let mut p = start;
        loop {
            // Spaces or tabs before an opening quote are not part of the field (as those
            // after its closing quote are not).
            let mut q = p;
            while matches!(data.get(q), Some(b' ' | b'\t')) {
                q += 1;
            }
            if data.get(q) == Some(&b'"') {
                p = q;
            }
            if data.get(p) == Some(&b'"') {
                let first = p + 1;
                let mut q = first;
                let mut escaped = false;
                let mut spans_lines = false;
                let close = loop {
                    let Some(j) = memchr::memchr3(b'"', b'\n', b'\r', &data[q..limit]) else {
                        if limit - start >= MAX_RECORD_BYTES || eof {
                            return Parse::Err {
                                what: Malformed::Unbalanced,
                                at: limit,
                                multiline: true,
                            };
                        }
                        return Parse::More;
                    };
                    let j = q + j;
                    match data[j] {
                        b'"' => match data.get(j + 1) {
                            Some(b'"') => {
                                escaped = true;
                                q = j + 2;
                            }
                            None if !eof => return Parse::More,
                            _ => break j,
                        },
                        b'\n' => {
                            spans_lines = true;
                            q = j + 1;
                        }
                        _ => {
                            // A `\r`: a line break in a CR file (with or without `\n`);
                            // in an LF file only with the `\n` that follows, seen next.
                            if self.ending == Ending::Cr {
                                spans_lines = true;
                            }
                            q = j + 1;
                        }
                    }
                };
                if spans_lines {
                    multiline = true;
                    commas += memchr::memchr_iter(b',', &data[first..close]).count();
                }
                out.push(Field {
                    start: first,
                    end: close,
                    escaped,
                });
                p = close + 1;
                while matches!(data.get(p), Some(b' ' | b'\t')) {
                    p += 1;
                }
                match data.get(p) {
                    None if eof => {
                        return Parse::Ok {
                            end: p,
                            multiline,
                            commas,
                        };
                    }
                    None => return Parse::More,
                    Some(b',') => p += 1,
                    Some(b'\n' | b'\r') => return self.record_end(data, p, eof, multiline, commas),
                    Some(_) => {
                        return Parse::Err {
                            what: Malformed::TextAfterQuote,
                            at: p,
                            multiline,
                        };
                    }
                }
            } else {
                let rest = &data[p..];
                let j = memchr::memchr3(b',', b'\n', b'\r', rest).unwrap_or(rest.len());
                if let Some(k) = memchr::memchr(b'"', &rest[..j]) {
                    return Parse::Err {
                        what: Malformed::QuoteInUnquoted,
                        at: p + k,
                        multiline,
                    };
                }
                out.push(Field {
                    start: p,
                    end: p + j,
                    escaped: false,
                });
                p += j;
                match data.get(p) {
                    None if eof => {
                        return Parse::Ok {
                            end: p,
                            multiline,
                            commas,
                        };
                    }
                    None => return Parse::More,
                    Some(b',') => p += 1,
                    Some(_) => return self.record_end(data, p, eof, multiline, commas),
                }
            }
        }
    }

    /// A record whose last field ends at the line break at `p`.
    fn record_end(
        &self,
        data: &[u8],
        p: usize,
        eof: bool,
        multiline: bool,
        commas: usize,
    ) -> Parse {
        let ok = |end| Parse::Ok {
            end,
            multiline,
            commas,
        };
        if data[p] == b'\n' {
            return ok(p + 1);
        }
        match data.get(p + 1) {
            Some(b'\n') => ok(p + 2),
            None if !eof => Parse::More,
            _ if self.ending == Ending::Cr => ok(p + 1),
            _ => Parse::Err {
                what: Malformed::BareCr,
                at: p,
                multiline,
            },
        }
    }
}

/// Where the header line of a CSV file is, and what it says.
#[derive(Debug)]
pub(crate) struct HeaderLine {
    /// The column names, or `None` when the line is malformed (then `count` is its number of
    /// comma-separated parts).
    pub names: Option<Vec<Vec<u8>>>,
    pub count: usize,
    pub ending: Ending,
    /// Where the data after the header starts.
    pub end: usize,
    /// The header's line number (blank lines may come first).
    pub line: u64,
}

/// How a file's lines end, by its first line break: a lone `\r` makes a CR file. `None` when
/// more data is needed to tell.
pub(crate) fn first_ending(data: &[u8], eof: bool) -> Option<Ending> {
    match memchr::memchr2(b'\n', b'\r', data) {
        Some(i) if data[i] == b'\r' => match data.get(i + 1) {
            Some(b'\n') => Some(Ending::Lf),
            None if !eof => None,
            _ => Some(Ending::Cr),
        },
        Some(_) => Some(Ending::Lf),
        None if !eof => None,
        None => Some(Ending::Lf),
    }
}

/// The physical lines of `data` (a whole number of lines, or the end of the file).
pub(crate) fn lines(data: &[u8], ending: Ending) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let d = rest?;
        let found = match ending {
            Ending::Lf => memchr::memchr(b'\n', d),
            Ending::Cr => memchr::memchr2(b'\n', b'\r', d),
        };
        match found {
            None => {
                rest = None;
                (!d.is_empty()).then_some(d)
            }
            Some(i) => {
                let next = if d[i] == b'\r' && d.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                rest = Some(&d[next..]);
                Some(&d[..i])
            }
        }
    })
}

/// Finds the header: the first line that is not blank. `None` when more data is needed.
/// A file without any such line yields a header of no columns at the end of the data.
pub(crate) fn header_line(data: &[u8], eof: bool) -> Option<HeaderLine> {
    let ending = first_ending(data, eof)?;
    let g = Grammar { fields: 0, ending };
    let mut start = 0;
    let mut line = 1;
    while let Some(end) = g.blank_line(data, start, eof)? {
        if end >= data.len() {
            if !eof {
                return None;
            }
            return Some(HeaderLine {
                names: Some(Vec::new()),
                count: 0,
                ending,
                end: data.len(),
                line,
            });
        }
        start = end;
        line += 1;
    }
    let mut fields = Vec::new();
    let line_end = g.line_end(data, start, eof)?;
    // A header is one line: a quote left open at its end makes it malformed.
    let names = match g.parse_record(data, start, eof, &mut fields) {
        Parse::Ok {
            end,
            multiline: false,
            ..
        } if end == line_end => Some(
            fields
                .iter()
                .map(|f| f.bytes(data).into_owned())
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let count = match &names {
        Some(n) => n.len(),
        None => memchr::memchr_iter(b',', &data[start..line_end]).count() + 1,
    };
    Some(HeaderLine {
        names,
        count,
        ending,
        end: line_end,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A validity for tests: a record whose fields hold an `x` is refused.
    fn no_x(data: &[u8], fields: &[Field]) -> bool {
        fields.iter().all(|f| !f.bytes(data).contains(&b'x'))
    }

    /// Every step of `text` read whole: (found, first line, lines, fields as text).
    fn steps(g: Grammar, text: &[u8]) -> Vec<(Found, u64, u64, Vec<String>)> {
        let mut out = Vec::new();
        let mut fields = Vec::new();
        let mut pos = 0;
        let mut line = 2;
        while pos < text.len() {
            let s = g
                .next(text, pos, true, &mut fields, &mut no_x)
                .expect("decided at eof");
            assert!(s.end > pos, "progress at {pos}");
            let shown = if s.found == Found::Record {
                fields
                    .iter()
                    .map(|f| String::from_utf8_lossy(&f.bytes(text)).into_owned())
                    .collect()
            } else {
                Vec::new()
            };
            out.push((s.found, line, s.lines, shown));
            line += s.lines;
            pos = s.end;
        }
        out
    }

    fn lf(fields: usize) -> Grammar {
        Grammar {
            fields,
            ending: Ending::Lf,
        }
    }

    #[test]
    fn quoted_fields_may_span_lines_and_escape_quotes() {
        let s = steps(lf(3), b"a,\"b\nc\",d\n\"q\"\"y\", z ,\"\"\n");
        assert_eq!(
            s,
            [
                (
                    Found::Record,
                    2,
                    2,
                    vec!["a".into(), "b\nc".into(), "d".into()]
                ),
                (
                    Found::Record,
                    4,
                    1,
                    vec!["q\"y".into(), " z ".into(), "".into()]
                ),
            ]
        );
    }

    #[test]
    fn a_stray_quote_costs_its_own_line_only() {
        // Line 3 opens a quote that never closes where a record can end; lines 4 and 5 are
        // good and survive.
        let text = b"a,b,c\nd,\"e,f\ng,h,i\nj,k,l\n";
        let s = steps(lf(3), text);
        let found: Vec<(Found, u64, u64)> = s.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            found,
            [
                (Found::Record, 2, 1),
                (Found::Bad(Malformed::Unbalanced), 3, 1),
                (Found::Record, 4, 1),
                (Found::Record, 5, 1),
            ]
        );
    }

    #[test]
    fn a_stray_quote_closing_in_the_same_column_does_not_swallow_rows() {
        // Opens in the last column of line 2 and a stray quote closes it at the end of line 5:
        // a well-formed record by RFC 4180 that would hide lines 3 and 4.
        let text = b"a,b,\"c\nd,e,f\ng,h,i\nj,k,l\"\nm,n,o\n";
        let s = steps(lf(3), text);
        let found: Vec<(Found, u64, u64)> = s.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            found,
            [
                (Found::Bad(Malformed::Unbalanced), 2, 1),
                (Found::Record, 3, 1),
                (Found::Record, 4, 1),
                (Found::Bad(Malformed::QuoteInUnquoted), 5, 1),
                (Found::Record, 6, 1),
            ]
        );
    }

    #[test]
    fn a_malformed_multiline_record_is_one_reject_with_its_lines() {
        // Four fields where three are expected, over three lines; the continuation lines do
        // not parse as records, so they go with it.
        let text = b"a,\"x\ny\nz\",b,c\nd,e,f\n";
        let s = steps(lf(3), text);
        let found: Vec<(Found, u64, u64)> = s.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            found,
            [
                (Found::Bad(Malformed::FieldCount { found: 4 }), 2, 3),
                (Found::Record, 5, 1),
            ]
        );
        // The right count, but the multi-line field holds a record's worth of commas.
        let s = steps(lf(3), b"x,\"a,b,\nc,d\",y\nm,n,o\n");
        let found: Vec<(Found, u64, u64)> = s.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            found,
            [
                (Found::Bad(Malformed::Swallowed), 2, 2),
                (Found::Record, 4, 1),
            ]
        );
    }

    #[test]
    fn a_stray_quote_closing_cleanly_into_an_invalid_record_costs_its_own_line() {
        // Line 2's last field opens a quote; line 3's second field opens one followed by a
        // line break, which closes it where a record can end: four well-formed fields, but
        // not valid (an `x` here). Line 3 starts a good record over two lines, which
        // survives.
        let text = b"x,a,a,\"\na,\"\nb\",a,a\n";
        let s = steps(lf(4), text);
        let found: Vec<(Found, u64, u64)> = s.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            found,
            [
                (Found::Bad(Malformed::Unbalanced), 2, 1),
                (Found::Record, 3, 2)
            ]
        );
        // By syntax alone, line 3's record would have been swallowed.
        let mut fields = Vec::new();
        let s = lf(4).step(text, 0, true, &mut fields).unwrap();
        assert_eq!((s.found, s.lines), (Found::Record, 2));
        // A record over several lines that is simply invalid is refused with its lines.
        let s = steps(lf(4), b"x,\"a\nb\",c,d\ne,f,g,h\n");
        let found: Vec<(Found, u64, u64)> = s.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(found, [(Found::Refused, 2, 2), (Found::Record, 4, 1)]);
    }

    #[test]
    fn text_after_a_closing_quote_and_bare_carriage_returns_are_one_reject_each() {
        let s = steps(lf(2), b"\"ab\"cd,e\nx\ry,z\n\"ok\"  ,w\n");
        let found: Vec<(Found, u64, u64)> = s.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            found,
            [
                (Found::Bad(Malformed::TextAfterQuote), 2, 1),
                (Found::Bad(Malformed::BareCr), 3, 1),
                (Found::Record, 4, 1),
            ]
        );
    }

    #[test]
    fn spaces_around_a_quoted_field_are_not_part_of_it() {
        // Regression: spaces after a closing quote were allowed but spaces before an opening
        // one made the record "a quote inside an unquoted field".
        let s = steps(lf(2), b"  \"a b\" ,\t\"c\"\n x \"y\",z\n \"p\nq\",r\n");
        assert_eq!(
            s,
            [
                (Found::Record, 2, 1, vec!["a b".into(), "c".into()]),
                (Found::Bad(Malformed::QuoteInUnquoted), 3, 1, vec![]),
                (Found::Record, 4, 2, vec!["p\nq".into(), "r".into()]),
            ]
        );
        let h = header_line(b" \"a\" , \"b\"\n", true).unwrap();
        assert_eq!(h.names, Some(vec![b"a".to_vec(), b"b".to_vec()]));
    }

    #[test]
    fn cr_files_count_lines_at_each_carriage_return() {
        let g = Grammar {
            fields: 2,
            ending: Ending::Cr,
        };
        let s = steps(g, b"a,b\rc\r\rd,\"e\rf\"\r");
        let found: Vec<(Found, u64, u64)> = s.iter().map(|x| (x.0, x.1, x.2)).collect();
        assert_eq!(
            found,
            [
                (Found::Record, 2, 1),
                (Found::Bad(Malformed::FieldCount { found: 1 }), 3, 1),
                (Found::Blank, 4, 1),
                (Found::Record, 5, 2),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_stops_within_the_bound() {
        let mut text = b"a,\"b\n".to_vec();
        while text.len() < MAX_RECORD_BYTES + 100 {
            text.extend_from_slice(b"x\n");
        }
        text.extend_from_slice(b"c,d\n");
        let g = lf(2);
        let mut fields = Vec::new();
        // Undecidable until the bound is in view, then decided without the rest.
        assert!(g.step(&text[..1000], 0, false, &mut fields).is_none());
        let s = g.step(&text, 0, false, &mut fields).unwrap();
        assert_eq!(s.found, Found::Bad(Malformed::Unbalanced));
        assert!((MAX_RECORD_BYTES..MAX_RECORD_BYTES + 2).contains(&s.end));
        assert_eq!(s.lines, (s.end as u64 - 5) / 2 + 1);
    }

    #[test]
    fn the_header_decides_the_line_ending() {
        let h = header_line(b"\n  \r\na,\"b\"\r\nx", false).unwrap();
        assert_eq!(h.names, Some(vec![b"a".to_vec(), b"b".to_vec()]));
        assert_eq!((h.ending, h.line, h.end), (Ending::Lf, 3, 12));
        let h = header_line(b"a,b\rx,y\r", true).unwrap();
        assert_eq!((h.ending, h.end, h.count), (Ending::Cr, 4, 2));
        let h = header_line(b"a,\"b\nc\"\n", true).unwrap();
        assert_eq!((h.names, h.count), (None, 2));
        assert!(header_line(b"a,b", false).is_none());
        let h = header_line(b"", true).unwrap();
        assert_eq!((h.count, h.end), (0, 0));
    }

    /// Bytes that make every shape: separators, quotes, both line breaks, spaces, text.
    fn soup() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                4 => Just(b'a'),
                1 => Just(b'x'),
                2 => Just(b','),
                2 => Just(b'"'),
                2 => Just(b'\n'),
                1 => Just(b'\r'),
                1 => Just(b' '),
            ],
            0..300,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Steps cover the data exactly, and their lines add up to its physical lines.
        #[test]
        fn steps_account_for_every_line(text in soup(), fields in 1usize..4, cr in any::<bool>()) {
            let g = Grammar { fields, ending: if cr { Ending::Cr } else { Ending::Lf } };
            let mut out = Vec::new();
            let mut pos = 0;
            let mut lines = 0;
            while pos < text.len() {
                let s = g.next(&text, pos, true, &mut out, &mut no_x).unwrap();
                prop_assert!(s.end > pos);
                prop_assert!(s.lines >= 1);
                lines += s.lines;
                pos = s.end;
            }
            prop_assert_eq!(lines, g.lines_in(&text));
        }

        /// Cutting where the data seen so far decides a step boundary, and reading each piece
        /// on its own, gives the steps of the whole.
        #[test]
        fn pieces_read_as_the_whole(text in soup(), fields in 1usize..4, cr in any::<bool>(), blocks in proptest::collection::vec(1usize..64, 1..40)) {
            let g = Grammar { fields, ending: if cr { Ending::Cr } else { Ending::Lf } };
            let whole = steps(g, &text);
            let mut pieced = Vec::new();
            let mut start = 0;
            let mut line = 2;
            let mut seen = 0;
            let mut blocks = blocks.into_iter().cycle();
            let mut out = Vec::new();
            while start < text.len() {
                seen = (seen.max(start) + blocks.next().unwrap()).min(text.len());
                let eof = seen == text.len();
                let view = &text[start..seen];
                // The last safe cut decided within the view.
                let pos = if eof { view.len() } else { g.last_cut(view, &mut out, &mut no_x) };
                if pos == 0 {
                    continue;
                }
                for s in steps(g, &view[..pos]) {
                    pieced.push((s.0, s.1 - 2 + line, s.2, s.3));
                }
                line += g.lines_in(&view[..pos]);
                start += pos;
            }
            prop_assert_eq!(pieced, whole);
        }
    }
}
