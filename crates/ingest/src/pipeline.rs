//! The ingest pipeline: one thread hashes and cuts sources into chunks, worker threads parse
//! and write chunks, and the calling thread commits each source when its last chunk is done.
//!
//! Memory does not grow with the input: chunks are read as they are needed and the job queue
//! is bounded (workers × 2 + 1 chunks in flight); besides them each worker holds its open
//! Parquet files, one per date of the source being written (at most 64).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use model::{Date, Timestamp, Zone};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use store::{Committed, SourceId, Staging, Writer};
use vault::Keys;

use crate::chunk::ChunkBuilder;
use crate::discover::{Format, Source, discover};
use crate::formats::{CsvHeader, csv_piece, jsonl_piece, parquet_batch};
use crate::rejects::RejectsFile;
use crate::split::{Piece, Splitter};
use crate::{FileReport, IngestError, KindCounts, Options, Progress, Reject, Summary};

enum Job {
    Text {
        file: usize,
        staging: Arc<Staging>,
        piece: Piece,
        header: Option<Arc<CsvHeader>>,
    },
    Parquet {
        file: usize,
        staging: Arc<Staging>,
        path: PathBuf,
        row_group: usize,
        first_row: u64,
    },
}

enum Event {
    Duplicate {
        file: usize,
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
    },
    Failed(IngestError),
}

impl FileReport {
    fn duplicate(src: &Source) -> FileReport {
        FileReport {
            path: src.path.display().to_string(),
            kind: src.kind.name().to_string(),
            duplicate: true,
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
    let (sources, not_input) = discover(inputs, opts.kind)?;
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
            s.spawn(move || {
                read_sources(
                    sources, writer, opts, job_tx, event_tx, progress, stop, cancel,
                )
            });
        }
        for worker in 0..threads {
            let (job_rx, event_tx, stop) = (job_rx.clone(), event_tx.clone(), &stop);
            s.spawn(move || {
                work(
                    worker, job_rx, event_tx, keys, zone, today, progress, stop, cancel,
                )
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
                } => {
                    let st = &mut states[file];
                    st.done += 1;
                    st.accepted += accepted;
                    st.rejects.extend(rejects);
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
            let rejected = st.rejects.len() as u64;
            let src = &sources[file];
            let name = src.path.display().to_string();
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
            // A copy of a source committed earlier in this run adds nothing.
            let report = if new {
                FileReport {
                    path: name,
                    kind: src.kind.name().to_string(),
                    duplicate: false,
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
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp(ms).date(zone)
}

#[allow(clippy::too_many_arguments)]
fn read_sources(
    sources: &[Source],
    writer: &Mutex<&mut Writer>,
    opts: &Options,
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
            file, src, writer, opts, &jobs, &events, progress, stop, cancel,
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
        let mut hasher = blake3::Hasher::new();
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
    let name = src.path.display().to_string();
    let staging = Arc::new(writer.lock().expect("writer lock").begin(
        src.kind,
        name,
        src.bytes,
        opts.threads.max(1),
    )?);
    let halted = || stop.load(Ordering::SeqCst) || cancel.load(Ordering::SeqCst);
    let mut chunks = 0u32;
    let mut ignored = Vec::new();
    let mut rejects = Vec::new();
    let blake3 = match src.format {
        Format::Csv | Format::JsonLines => {
            let mut input = HashingReader {
                inner: File::open(&src.path).map_err(io)?,
                hasher: blake3::Hasher::new(),
            };
            let mut header = None;
            let (carry, first_line) = if src.format == Format::Csv {
                let (h, carry, first_line) = read_csv_header(&mut input, src).map_err(io)?;
                if let Some(h) = h {
                    ignored.clone_from(&h.unknown);
                    header = Some(Arc::new(h));
                }
                (carry, first_line)
            } else {
                (Vec::new(), 1)
            };
            if src.format == Format::JsonLines || header.is_some() {
                let mut splitter = Splitter::new(
                    &mut input,
                    opts.chunk_bytes,
                    src.format == Format::Csv,
                    first_line,
                    carry,
                );
                while let Some(piece) = splitter.next_piece().map_err(io)? {
                    if halted() {
                        return Ok(());
                    }
                    let job = Job::Text {
                        file,
                        staging: staging.clone(),
                        piece,
                        header: header.clone(),
                    };
                    chunks += 1;
                    if jobs.send(job).is_err() {
                        return Ok(());
                    }
                }
            }
            // Whatever was not read (an empty or headerless file) still counts in the hash.
            std::io::copy(&mut input, &mut std::io::sink()).map_err(io)?;
            known.unwrap_or_else(|| input.hasher.finalize().to_hex().to_string())
        }
        Format::Parquet => {
            let opened = File::open(&src.path)
                .map_err(|e| e.to_string())
                .and_then(|f| {
                    ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| e.to_string())
                });
            match opened {
                Err(reason) => {
                    rejects.push(Reject {
                        line: 0,
                        column: String::new(),
                        reason: format!("not a readable Parquet file: {reason}"),
                    });
                    progress(Progress::Bytes(src.bytes));
                }
                Ok(builder) => {
                    let meta = builder.metadata().clone();
                    let mut first_row = 1u64;
                    for (rg, info) in meta.row_groups().iter().enumerate() {
                        if halted() {
                            return Ok(());
                        }
                        let job = Job::Parquet {
                            file,
                            staging: staging.clone(),
                            path: src.path.clone(),
                            row_group: rg,
                            first_row,
                        };
                        first_row += info.num_rows() as u64;
                        chunks += 1;
                        if jobs.send(job).is_err() {
                            return Ok(());
                        }
                    }
                }
            }
            known.expect("Parquet sources are hashed first")
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

/// Reads the CSV header (the first record) and returns it, the bytes read past it, and the
/// line the first data record starts on. An empty file has no header and no rows.
fn read_csv_header(
    f: &mut impl Read,
    src: &Source,
) -> std::io::Result<(Option<CsvHeader>, Vec<u8>, u64)> {
    let mut buf = Vec::new();
    let mut block = 64 << 10;
    loop {
        let start = buf.len();
        buf.resize(start + block, 0);
        let n = f.read(&mut buf[start..])?;
        buf.truncate(start + n);
        let eof = n == 0;
        let body = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf);
        let bom = buf.len() - body.len();
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let mut rec = csv::ByteRecord::new();
        let got = rdr.read_byte_record(&mut rec).unwrap_or(false);
        let pos = rdr.position().clone();
        let complete = got && ((pos.byte() as usize) < body.len() || body.ends_with(b"\n") || eof);
        if complete {
            let header = CsvHeader::new(src.kind.spec(), &rec);
            let carry = buf[bom + pos.byte() as usize..].to_vec();
            return Ok((Some(header), carry, pos.line()));
        }
        if eof {
            return Ok((None, Vec::new(), 2));
        }
        block *= 2;
    }
}

#[allow(clippy::too_many_arguments)]
fn work(
    worker: usize,
    jobs: Receiver<Job>,
    events: Sender<Event>,
    keys: &Keys,
    zone: Zone,
    today: Date,
    progress: &(dyn Fn(Progress) + Sync),
    stop: &AtomicBool,
    cancel: &AtomicBool,
) {
    for job in jobs {
        if stop.load(Ordering::SeqCst) || cancel.load(Ordering::SeqCst) {
            continue;
        }
        let event = match run_job(worker, job, keys, zone, today, progress) {
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
    keys: &Keys,
    zone: Zone,
    today: Date,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Event, IngestError> {
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
    match job {
        Job::Text { piece, header, .. } => {
            match header {
                Some(h) => csv_piece(&mut b, &h, &piece.data, piece.first_line),
                None => jsonl_piece(&mut b, &piece.data, piece.first_line),
            }
            progress(Progress::Bytes(piece.data.len() as u64));
        }
        Job::Parquet {
            path,
            row_group,
            first_row,
            ..
        } => {
            let bad = |reason: String| IngestError::ParquetInput {
                path: path.clone(),
                reason,
            };
            let f = File::open(&path).map_err(|cause| IngestError::Io {
                path: path.clone(),
                cause,
            })?;
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| bad(e.to_string()))?;
            let bytes = builder.metadata().row_group(row_group).compressed_size() as u64;
            let reader = builder
                .with_row_groups(vec![row_group])
                .with_batch_size(64 << 10)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            let mut row = first_row;
            for batch in reader {
                match batch {
                    Ok(batch) => {
                        parquet_batch(&mut b, &batch, row);
                        row += batch.num_rows() as u64;
                    }
                    Err(e) => {
                        b.reject(
                            row,
                            "",
                            format!(
                                "unreadable rows from here to the end of row group {row_group}: {e}"
                            ),
                        );
                        break;
                    }
                }
            }
            progress(Progress::Bytes(bytes));
        }
    }
    let accepted = b.accepted;
    let rejects = std::mem::take(&mut b.rejects);
    b.finish()?;
    drop(staging);
    Ok(Event::Chunk {
        file,
        accepted,
        rejects,
    })
}
