//! The ingest pipeline: one thread hashes and cuts sources into chunks, worker threads parse
//! and write chunks, and the calling thread commits each source when its last chunk is done.
//!
//! Memory does not grow with the input: chunks are read as they are needed and the job queue
//! is bounded (workers × 2 + 1 chunks in flight); besides them each worker holds its open
//! Parquet files, one per date of the source being written (at most 64).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use model::{Date, Timestamp, Zone};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use store::{Committed, SourceId, Staging, Writer};
use vault::Keys;

use crate::chunk::{ChunkBuilder, Validator};
use crate::discover::{Format, Source, discover};
use crate::formats::{
    ColumnMap, CsvHeader, UnknownNames, csv_piece, csv_record_valid, foreign_encoding, jsonl_piece,
    parquet_batch, shown_unknown,
};
use crate::records::{Ending, MAX_RECORD_BYTES, first_ending, header_line};
use crate::rejects::{Reason, RejectsFile};
use crate::split::{Cut, Piece, Splitter};
use crate::{FileReport, IngestError, KindCounts, Options, Progress, Reject, Summary};

enum Job {
    Text {
        file: usize,
        staging: Arc<Staging>,
        piece: Piece,
        header: Option<Arc<CsvHeader>>,
        /// How the source's lines end.
        ending: Ending,
    },
    Parquet {
        file: usize,
        staging: Arc<Staging>,
        path: PathBuf,
        meta: ArrowReaderMetadata,
        row_group: usize,
        first_row: u64,
    },
}

enum Event {
    Duplicate {
        file: usize,
    },
    /// The file cannot be read at all; it is not staged.
    Refused {
        file: usize,
        reason: String,
    },
    Planned {
        file: usize,
        staging: Arc<Staging>,
        id: SourceId,
        chunks: u32,
        ignored: Vec<String>,
        rejects: Vec<Reject>,
    },
    Chunk {
        file: usize,
        accepted: u64,
        rejects: Vec<Reject>,
        unknown: UnknownNames,
    },
    Failed(IngestError),
}

impl FileReport {
    fn duplicate(src: &Source) -> FileReport {
        FileReport {
            path: src.name.clone(),
            kind: src.kind.name().to_string(),
            duplicate: true,
            refused: None,
            rows_accepted: 0,
            rows_rejected: 0,
            ignored_columns: Vec::new(),
        }
    }
}

#[derive(Default)]
struct FileState {
    staging: Option<Arc<Staging>>,
    id: Option<SourceId>,
    expected: Option<u32>,
    done: u32,
    accepted: u64,
    rejects: Vec<Reject>,
    ignored: Vec<String>,
    /// Columns the kind does not know that rows named (JSON keys).
    unknown: UnknownNames,
}

/// [`run`] in one call: the data dir at `data` opened for writing in `zone` (waiting for
/// another writer to finish), default options, no progress, not interruptible. For programs
/// embedding an ingest (the benches, tests); the CLI drives [`run`] itself.
pub fn into_data_dir(
    data: &std::path::Path,
    keys: &Keys,
    zone: Zone,
    inputs: &[PathBuf],
) -> Result<Summary, IngestError> {
    let mut writer = Writer::open(data, keys.key_id(), zone, || {})?;
    run(
        &mut writer,
        keys,
        inputs,
        &Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
}

/// Ingests `inputs` (files or folders) into the data dir `writer` holds.
pub fn run(
    writer: &mut Writer,
    keys: &Keys,
    inputs: &[PathBuf],
    opts: &Options,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
) -> Result<Summary, IngestError> {
    let started = Instant::now();
    let (mut sources, not_input) = discover(inputs, opts.kind)?;
    if let Some(name) = &opts.source_name {
        for s in &mut sources {
            s.name.clone_from(name);
        }
    }
    let total: u64 = sources.iter().map(|s| s.bytes).sum();
    progress(Progress::Started {
        files: sources.len(),
        bytes: total,
    });
    let zone = writer.zone();
    let today = today(zone);
    let rejects_path = writer.rejects_path()?;
    let mut rejects_file = RejectsFile::create(&rejects_path)?;
    let threads = opts.threads.max(1);
    let stop = AtomicBool::new(false);
    let writer = Mutex::new(writer);
    let (job_tx, job_rx) = bounded::<Job>(threads * 2);
    let (event_tx, event_rx) = unbounded::<Event>();

    let mut states: Vec<FileState> = sources.iter().map(|_| FileState::default()).collect();
    let mut reports: Vec<Option<FileReport>> = vec![None; sources.len()];
    let mut failure: Option<IngestError> = None;
    let mut committed = 0u64;

    std::thread::scope(|s| {
        {
            let (sources, writer, stop, event_tx) = (&sources, &writer, &stop, event_tx.clone());
            let only = opts.only_enterprise.as_deref();
            let rules = Rules {
                keys,
                zone,
                today,
                only,
            };
            s.spawn(move || {
                read_sources(
                    sources, writer, opts, rules, job_tx, event_tx, progress, stop, cancel,
                )
            });
        }
        for worker in 0..threads {
            let (job_rx, event_tx, stop) = (job_rx.clone(), event_tx.clone(), &stop);
            s.spawn(move || {
                let rules = Rules {
                    keys,
                    zone,
                    today,
                    only: opts.only_enterprise.as_deref(),
                };
                work(worker, job_rx, event_tx, rules, progress, stop, cancel)
            });
        }
        drop(event_tx);
        drop(job_rx);

        for event in event_rx {
            let file = match event {
                Event::Failed(e) => {
                    stop.store(true, Ordering::SeqCst);
                    failure.get_or_insert(e);
                    continue;
                }
                Event::Duplicate { file } => {
                    let report = FileReport::duplicate(&sources[file]);
                    progress(Progress::Finished(report.clone()));
                    reports[file] = Some(report);
                    continue;
                }
                Event::Refused { file, reason } => {
                    let src = &sources[file];
                    let name = src.name.clone();
                    // Line 0: the file as a whole.
                    let whole = Reject {
                        line: 0,
                        last_line: 0,
                        column: String::new(),
                        reason: format!("file refused: {reason}"),
                        rows: 0,
                    };
                    if let Err(e) = rejects_file.write(&name, &[whole]) {
                        stop.store(true, Ordering::SeqCst);
                        failure.get_or_insert(e);
                        continue;
                    }
                    let report = FileReport {
                        path: name,
                        kind: src.kind.name().to_string(),
                        duplicate: false,
                        refused: Some(reason),
                        rows_accepted: 0,
                        rows_rejected: 0,
                        ignored_columns: Vec::new(),
                    };
                    progress(Progress::Finished(report.clone()));
                    reports[file] = Some(report);
                    continue;
                }
                Event::Planned {
                    file,
                    staging,
                    id,
                    chunks,
                    ignored,
                    rejects,
                } => {
                    let st = &mut states[file];
                    st.staging = Some(staging);
                    st.id = Some(id);
                    st.expected = Some(chunks);
                    st.ignored = ignored;
                    st.rejects.extend(rejects);
                    file
                }
                Event::Chunk {
                    file,
                    accepted,
                    rejects,
                    unknown,
                } => {
                    let st = &mut states[file];
                    st.done += 1;
                    st.accepted += accepted;
                    st.rejects.extend(rejects);
                    st.unknown.merge(unknown);
                    file
                }
            };
            let st = &mut states[file];
            if stop.load(Ordering::SeqCst)
                || cancel.load(Ordering::SeqCst)
                || st.expected != Some(st.done)
            {
                continue;
            }
            let staging = st.staging.take().expect("planned");
            let staging = Arc::try_unwrap(staging).expect("every chunk has let go of its staging");
            st.rejects.sort_by_key(|r| r.line);
            let rejected = st.rejects.iter().map(|r| r.rows).sum::<u64>();
            let src = &sources[file];
            let name = src.name.clone();
            let id = st.id.take().expect("planned");
            let committed_now =
                match writer
                    .lock()
                    .expect("writer lock")
                    .commit(staging, id, st.accepted, rejected)
                {
                    Ok(Committed::New(_)) => rejects_file.write(&name, &st.rejects).map(|()| true),
                    Ok(Committed::Duplicate) => Ok(false),
                    Err(e) => Err(e.into()),
                };
            let new = match committed_now {
                Ok(new) => new,
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    failure.get_or_insert(e);
                    continue;
                }
            };
            committed += u64::from(new);
            let unknown = std::mem::take(&mut st.unknown);
            st.ignored.extend(unknown.shown(src.kind.spec()));
            // A copy of a source committed earlier in this run adds nothing.
            let report = if new {
                FileReport {
                    path: name,
                    kind: src.kind.name().to_string(),
                    duplicate: false,
                    refused: None,
                    rows_accepted: st.accepted,
                    rows_rejected: rejected,
                    ignored_columns: std::mem::take(&mut st.ignored),
                }
            } else {
                FileReport::duplicate(src)
            };
            st.rejects = Vec::new();
            progress(Progress::Finished(report.clone()));
            reports[file] = Some(report);
        }
    });

    let writer = writer.into_inner().expect("writer lock");
    for st in &mut states {
        if let Some(staging) = st.staging.take() {
            writer.abort(Arc::try_unwrap(staging).expect("threads have ended"));
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if cancel.load(Ordering::SeqCst) {
        return Err(IngestError::Interrupted { committed });
    }

    let sources_done: Vec<FileReport> = reports.into_iter().flatten().collect();
    let mut by_kind: BTreeMap<String, KindCounts> = BTreeMap::new();
    for r in &sources_done {
        let k = by_kind.entry(r.kind.clone()).or_default();
        k.rows_accepted += r.rows_accepted;
        k.rows_rejected += r.rows_rejected;
    }
    Ok(Summary {
        files: sources.len() as u64,
        files_duplicate: sources_done.iter().filter(|r| r.duplicate).count() as u64,
        files_refused: sources_done.iter().filter(|r| r.refused.is_some()).count() as u64,
        rows_accepted: sources_done.iter().map(|r| r.rows_accepted).sum(),
        rows_rejected: sources_done.iter().map(|r| r.rows_rejected).sum(),
        rejects: rejects_path,
        bytes: total,
        elapsed_secs: started.elapsed().as_secs_f64(),
        by_kind,
        sources: sources_done,
        not_input,
    })
}

fn today(zone: Zone) -> Date {
    Timestamp::now().date(zone)
}

/// What the reader thread needs to decide records over several lines as the workers will.
#[derive(Clone, Copy)]
struct Rules<'a> {
    keys: &'a Keys,
    zone: Zone,
    today: Date,
    /// [`Options::only_enterprise`].
    only: Option<&'a str>,
}

#[allow(clippy::too_many_arguments)]
fn read_sources(
    sources: &[Source],
    writer: &Mutex<&mut Writer>,
    opts: &Options,
    rules: Rules<'_>,
    jobs: Sender<Job>,
    events: Sender<Event>,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
    cancel: &AtomicBool,
) {
    for (file, src) in sources.iter().enumerate() {
        if stop.load(Ordering::SeqCst) || cancel.load(Ordering::SeqCst) {
            break;
        }
        if let Err(e) = plan_source(
            file, src, writer, opts, rules, &jobs, &events, progress, stop, cancel,
        ) {
            let _ = events.send(Event::Failed(e));
            break;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn plan_source(
    file: usize,
    src: &Source,
    writer: &Mutex<&mut Writer>,
    opts: &Options,
    rules: Rules<'_>,
    jobs: &Sender<Job>,
    events: &Sender<Event>,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
    cancel: &AtomicBool,
) -> Result<(), IngestError> {
    let io = |cause| IngestError::Io {
        path: src.path.clone(),
        cause,
    };
    let probe = store::probe(&src.path).map_err(io)?;
    let maybe_seen = writer
        .lock()
        .expect("writer lock")
        .manifest()
        .has_probe(src.kind, &probe);
    // A file whose probe is new is new: hash it while reading it for parsing. Otherwise (and
    // for Parquet, which workers read themselves) hash it first, so that re-ingesting a folder
    // costs one read per old file, not a parse.
    let mut known = None;
    if maybe_seen || src.format == Format::Parquet {
        let mut hasher = source_hasher(opts);
        hasher
            .update_reader(File::open(&src.path).map_err(io)?)
            .map_err(io)?;
        let hash = hasher.finalize().to_hex().to_string();
        if writer
            .lock()
            .expect("writer lock")
            .manifest()
            .find(src.kind, &hash)
            .is_some()
        {
            progress(Progress::Bytes(src.bytes));
            let _ = events.send(Event::Duplicate { file });
            return Ok(());
        }
        known = Some(hash);
    }
    let refuse = |reason: String| {
        progress(Progress::Bytes(src.bytes));
        let _ = events.send(Event::Refused { file, reason });
        Ok(())
    };
    // Everything that can refuse the file as a whole is decided before it is staged.
    let mut input = HashingReader {
        inner: File::open(&src.path).map_err(io)?,
        hasher: source_hasher(opts),
    };
    let mut text = None;
    let mut parquet = None;
    let mut header_reject = None;
    match src.format {
        Format::Csv | Format::JsonLines => {
            let what = if src.format == Format::Csv {
                "CSV"
            } else {
                "JSON Lines"
            };
            let (mut prefix, mut eof) = read_some(&mut input, Vec::new(), 64 << 10).map_err(io)?;
            if let Some(encoding) = foreign_encoding(&prefix) {
                return refuse(format!(
                    "the file is {encoding} text; {what} must be UTF-8 (save it as UTF-8)"
                ));
            }
            if prefix.starts_with(b"\xEF\xBB\xBF") {
                prefix.drain(..3);
            }
            if src.format == Format::JsonLines {
                // Lines end as the first one does (a lone `\r`: old Mac style).
                let ending = loop {
                    if let Some(ending) = first_ending(&prefix, eof) {
                        break ending;
                    }
                    if prefix.len() > MAX_RECORD_BYTES {
                        let array = prefix.trim_ascii_start().starts_with(b"[");
                        return refuse(format!(
                            "no line break in the first {} MiB: not JSON Lines{}",
                            MAX_RECORD_BYTES >> 20,
                            if array {
                                " (a JSON array? write one object per line)"
                            } else {
                                ""
                            }
                        ));
                    }
                    let want = prefix.len().max(64 << 10);
                    (prefix, eof) = read_some(&mut input, prefix, want).map_err(io)?;
                };
                text = Some((None, prefix, 1, ending));
            } else {
                // The header: the first line that is not blank.
                let line = loop {
                    if let Some(line) = header_line(&prefix, eof) {
                        break line;
                    }
                    if prefix.len() > MAX_RECORD_BYTES {
                        return refuse(format!(
                            "no line break in the first {} MiB: not a CSV file",
                            MAX_RECORD_BYTES >> 20
                        ));
                    }
                    let want = prefix.len().max(64 << 10);
                    (prefix, eof) = read_some(&mut input, prefix, want).map_err(io)?;
                };
                let carry = prefix.split_off(line.end.min(prefix.len()));
                let header = (line.count > 0).then(|| CsvHeader::new(src.kind.spec(), &line));
                if let Some(h) = header.as_ref().filter(|h| h.headless) {
                    let (col, _) = h.refuse_all.expect("a headless file lacks a column");
                    header_reject = Some(Reject {
                        line: line.line,
                        last_line: line.line,
                        column: col.to_string(),
                        reason: Reason::Fixed(
                            "the first line holds values, not column names: the file has no header",
                        )
                        .to_string(),
                        rows: 1,
                    });
                }
                text = Some((header, carry, line.line + 1, line.ending));
            }
        }
        Format::Parquet => {
            let loaded = File::open(&src.path).map_err(io).map(|f| {
                catch_unwind(AssertUnwindSafe(|| {
                    ArrowReaderMetadata::load(&f, ArrowReaderOptions::new())
                }))
            })?;
            match loaded {
                Ok(Ok(meta)) => parquet = Some(meta),
                Ok(Err(e)) => return refuse(format!("not a readable Parquet file: {e}")),
                Err(_) => {
                    return refuse("not a readable Parquet file: its metadata is corrupt".into());
                }
            }
        }
    }

    let name = src.name.clone();
    let staging = Arc::new(writer.lock().expect("writer lock").begin(
        src.kind,
        name,
        src.bytes,
        opts.threads.max(1),
    )?);
    let halted = || stop.load(Ordering::SeqCst) || cancel.load(Ordering::SeqCst);
    let mut chunks = 0u32;
    let mut ignored = Vec::new();
    let mut rejects: Vec<Reject> = header_reject.into_iter().collect();
    if let Some((header, carry, first_line, ending)) = text {
        let header = header.map(Arc::new);
        let cut = match &header {
            Some(h) => {
                ignored.clone_from(&h.unknown);
                Some(Cut::Csv(h.grammar))
            }
            None if src.format == Format::JsonLines => Some(Cut::Lines(ending)),
            // A CSV file without a header line has no rows.
            None => None,
        };
        if let Some(cut) = cut {
            let mut splitter = Splitter::new(&mut input, opts.chunk_bytes, cut, first_line, carry);
            let mut validator = Validator::new(src.kind, rules.zone, rules.keys, rules.today);
            validator.restrict(rules.only);
            let mut valid = |data: &[u8], fields: &[crate::records::Field]| match &header {
                Some(h) => csv_record_valid(&mut validator, h, data, fields),
                None => true,
            };
            while let Some(piece) = splitter.next_piece(&mut valid).map_err(io)? {
                if halted() {
                    return Ok(());
                }
                let job = Job::Text {
                    file,
                    staging: staging.clone(),
                    piece,
                    header: header.clone(),
                    ending,
                };
                chunks += 1;
                if jobs.send(job).is_err() {
                    return Ok(());
                }
            }
        }
    }
    if let Some(meta) = parquet {
        let spec = src.kind.spec();
        let schema = meta.schema();
        let found = ColumnMap::new(spec, schema.fields().iter().map(|f| f.name().as_str()));
        let has_required = spec
            .columns
            .iter()
            .zip(&found.map)
            .all(|(c, at)| !c.required || at.is_some());
        if has_required && found.twice.is_none() {
            ignored = shown_unknown(spec, schema.fields().iter().map(|f| f.name().as_str()));
        }
        let groups = meta.metadata().row_groups();
        let mut first_row = 1u64;
        for (rg, info) in groups.iter().enumerate() {
            if halted() {
                return Ok(());
            }
            let job = Job::Parquet {
                file,
                staging: staging.clone(),
                path: src.path.clone(),
                meta: meta.clone(),
                row_group: rg,
                first_row,
            };
            first_row += info.num_rows().max(0) as u64;
            chunks += 1;
            if jobs.send(job).is_err() {
                return Ok(());
            }
        }
        // Rows the file declares that no row group holds are rows too.
        let declared = meta.metadata().file_metadata().num_rows().max(0) as u64;
        let held = first_row - 1;
        if declared > held {
            rejects.push(Reject {
                line: held + 1,
                last_line: declared,
                column: String::new(),
                reason: Reason::Fixed("rows the file declares but no row group holds").to_string(),
                rows: declared - held,
            });
        }
    }
    let blake3 = match known {
        Some(hash) => hash,
        None => {
            // Whatever was not read (an empty or headerless file) still counts in the hash.
            std::io::copy(&mut input, &mut std::io::sink()).map_err(io)?;
            input.hasher.finalize().to_hex().to_string()
        }
    };
    let id = SourceId { blake3, probe };
    let _ = events.send(Event::Planned {
        file,
        staging,
        id,
        chunks,
        ignored,
        rejects,
    });
    Ok(())
}

/// The hash a source is known by in the manifest: BLAKE3 of its bytes; for an upload held to one
/// enterprise ([`Options::only_enterprise`]), BLAKE3 of its bytes under a key derived from that
/// enterprise. An enterprise re-sending its own file is told it is a duplicate, but one sending
/// a file another enterprise or the command centre stored is not: "already stored" would
/// otherwise confirm a guess at someone else's application, row for row.
fn source_hasher(opts: &Options) -> blake3::Hasher {
    match opts.only_enterprise.as_deref() {
        None => blake3::Hasher::new(),
        Some(e) => {
            let mut h = blake3::Hasher::new_derive_key("fangyi 2026 upload held to one enterprise");
            h.update(e.as_bytes());
            h.update(b"\n");
            h
        }
    }
}

/// Appends up to `want` bytes of `f` to `buf`; says whether the input ended.
fn read_some(f: &mut impl Read, mut buf: Vec<u8>, want: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let n = f.take(want as u64).read_to_end(&mut buf)?;
    Ok((buf, n < want))
}

/// Hashes what passes through it.
struct HashingReader {
    inner: File,
    hasher: blake3::Hasher,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[allow(clippy::too_many_arguments)]
fn work(
    worker: usize,
    jobs: Receiver<Job>,
    events: Sender<Event>,
    rules: Rules<'_>,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
    cancel: &AtomicBool,
) {
    for job in jobs {
        if stop.load(Ordering::SeqCst) || cancel.load(Ordering::SeqCst) {
            continue;
        }
        let event = match run_job(worker, job, rules, progress) {
            Ok(e) => e,
            Err(e) => Event::Failed(e),
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

fn run_job(
    worker: usize,
    job: Job,
    rules: Rules<'_>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Event, IngestError> {
    let Rules {
        keys, zone, today, ..
    } = rules;
    let (file, staging) = match &job {
        Job::Text { file, staging, .. } | Job::Parquet { file, staging, .. } => {
            (*file, staging.clone())
        }
    };
    let rows_hint = match &job {
        // A row of any kind takes at least ~40 bytes of text.
        Job::Text { piece, .. } => piece.data.len() / 40 + 1,
        Job::Parquet { .. } => 64 << 10,
    };
    let mut b = ChunkBuilder::new(&staging, worker, zone, keys, today, rows_hint)?;
    b.restrict(rules.only);
    match job {
        Job::Text {
            piece,
            header,
            ending,
            ..
        } => {
            match header {
                Some(h) => csv_piece(&mut b, &h, &piece.data, piece.first_line),
                None => jsonl_piece(&mut b, &piece.data, piece.first_line, ending),
            }
            progress(Progress::Bytes(piece.data.len() as u64));
        }
        Job::Parquet {
            path,
            meta,
            row_group,
            first_row,
            ..
        } => {
            let info = meta.metadata().row_group(row_group);
            let (bytes, rows) = (info.compressed_size() as u64, info.num_rows().max(0) as u64);
            let open =
                |selection: Option<RowSelection>| -> Result<ParquetRecordBatchReader, IngestError> {
                    let f = File::open(&path).map_err(|cause| IngestError::Io {
                        path: path.clone(),
                        cause,
                    })?;
                    let mut builder =
                        ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
                            .with_row_groups(vec![row_group])
                            .with_batch_size(64 << 10);
                    if let Some(selection) = selection {
                        builder = builder.with_row_selection(selection);
                    }
                    builder.build().map_err(|e| IngestError::ParquetInput {
                        path: path.clone(),
                        reason: e.to_string(),
                    })
                };
            read_row_group(&mut b, &open, row_group, first_row, rows)?;
            progress(Progress::Bytes(bytes));
        }
    }
    let accepted = b.accepted;
    let rejects = std::mem::take(&mut b.rejects);
    let unknown = std::mem::take(&mut b.unknown);
    b.finish()?;
    drop(staging);
    Ok(Event::Chunk {
        file,
        accepted,
        rejects,
        unknown,
    })
}

/// How many times a row group's unreadable rows are split in two and read again, to keep
/// the readable rows beside one bad value: enough to isolate a few bad rows in millions.
const PARQUET_RETRIES: u32 = 64;

/// Reads the `rows` rows of a row group, numbered from `first_row`, into `b`. Every row is
/// stored or rejected: a range the decoder fails on (or panics on) is halved and read again
/// while retries last, then rejected as a range; rows the reader does not return are rejected.
fn read_row_group(
    b: &mut ChunkBuilder<'_>,
    open: &dyn Fn(Option<RowSelection>) -> Result<ParquetRecordBatchReader, IngestError>,
    row_group: usize,
    first_row: u64,
    rows: u64,
) -> Result<(), IngestError> {
    let mut retries = PARQUET_RETRIES;
    // Ranges of the group still to read, the first last.
    let mut todo = vec![(0u64, rows)];
    while let Some((from, to)) = todo.pop() {
        if from >= to {
            continue;
        }
        let selection = (from > 0 || to < rows).then(|| {
            RowSelection::from(vec![
                RowSelector::skip(from as usize),
                RowSelector::select((to - from) as usize),
            ])
        });
        let mut got = 0u64;
        let mut failure = None;
        match catch_unwind(AssertUnwindSafe(|| open(selection))) {
            Ok(Ok(mut reader)) => loop {
                match catch_unwind(AssertUnwindSafe(|| reader.next())) {
                    Ok(None) => break,
                    Ok(Some(Ok(batch))) => {
                        let n = (batch.num_rows() as u64).min(to - from - got);
                        parquet_batch(b, &batch.slice(0, n as usize), first_row + from + got);
                        got += n;
                    }
                    Ok(Some(Err(e))) => {
                        failure = Some(e.to_string());
                        break;
                    }
                    Err(_) => {
                        failure = Some("the Parquet decoder failed (corrupt data)".into());
                        break;
                    }
                }
            },
            Ok(Err(IngestError::ParquetInput { reason, .. })) => failure = Some(reason),
            Ok(Err(e)) => return Err(e),
            Err(_) => failure = Some("the Parquet decoder failed (corrupt data)".into()),
        }
        let from = from + got;
        if from >= to {
            continue;
        }
        let (first, last) = (first_row + from, first_row + to - 1);
        match failure {
            None => b.reject_span(
                first,
                last,
                "",
                Reason::ParquetMissing {
                    row_group,
                    declared: rows,
                },
                to - from,
            ),
            Some(_) if to - from > 1 && retries > 0 => {
                retries -= 1;
                let mid = from + (to - from) / 2;
                todo.push((mid, to));
                todo.push((from, mid));
            }
            Some(cause) => {
                b.reject_span(
                    first,
                    last,
                    "",
                    Reason::ParquetDecode { row_group, cause },
                    to - from,
                );
            }
        }
    }
    Ok(())
}
