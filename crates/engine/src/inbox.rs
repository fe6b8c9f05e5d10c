//! The residents' inbox: a report is acknowledged once it is durable in the operational
//! database (sealed, group-committed with whatever else arrived meanwhile), and reaches the
//! store when a flush ingests the waiting reports of a kind as one source through the ordinary
//! ingest. A flush claims its batch before it ingests and forgets it after, so a crash between
//! the two ingests the same batch again — the same bytes, which the store adds nothing for.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use codesign::{hex, unhex};
use model::{Kind, Timestamp};
use ops::{InboxRow, Ops};
use tokio::sync::{mpsc, oneshot};
use vault::Keys;

use crate::{Engine, EngineError};

/// Reports committed in one transaction at most.
const GROUP: usize = 4096;

/// The kinds residents report, flushed in this order.
pub(crate) const RESIDENT_KINDS: [Kind; 2] = [Kind::SelfReports, Kind::Registrations];

struct Pending {
    row: InboxRow,
    done: oneshot::Sender<Result<(), String>>,
}

/// The task that commits reports to the inbox, many per transaction.
pub(crate) struct InboxWriter {
    tx: mpsc::Sender<Pending>,
}

impl InboxWriter {
    /// Starts the writer on the current tokio runtime.
    pub fn start(ops: Ops) -> InboxWriter {
        let (tx, rx) = mpsc::channel(GROUP * 4);
        tokio::spawn(commit_loop(ops, rx));
        InboxWriter { tx }
    }

    /// Adds one report and waits until it is durable.
    pub async fn add(&self, row: InboxRow) -> Result<(), EngineError> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Pending { row, done })
            .await
            .map_err(|_| EngineError::Internal("the inbox writer has stopped".into()))?;
        rx.await
            .map_err(|_| EngineError::Internal("the inbox writer has stopped".into()))?
            .map_err(EngineError::Internal)
    }
}

async fn commit_loop(ops: Ops, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let rows: Vec<InboxRow> = group.iter().map(|p| p.row.clone()).collect();
        let result = ops.inbox_add(&rows).await.map_err(|e| e.to_string());
        for p in group {
            let _ = p.done.send(result.clone());
        }
    }
}

/// What a row's seal is bound to: its kind and id, so a sealed record cannot be moved to
/// another row.
fn context(kind: &str, id: &str) -> String {
    format!("inbox:{kind}:{id}")
}

/// Seals one JSON Lines record under the vault key (a fresh salt each time).
pub(crate) fn seal(keys: &Keys, kind: &str, id: &str, record: &str) -> Result<String, EngineError> {
    let mut sealer = keys.sealer().map_err(EngineError::internal)?;
    let sealed = sealer.seal(&context(kind, id), 0, 0, &[Some(record)]);
    Ok(format!("{}:{}", hex(&sealer.salt()), hex(&sealed)))
}

/// Opens what [`seal`] sealed.
fn open(keys: &Keys, row: &InboxRow) -> Result<String, EngineError> {
    let bad = || EngineError::Internal(format!("inbox row {}: malformed or altered", row.id));
    let (salt, sealed) = row.sealed.split_once(':').ok_or_else(bad)?;
    let salt: [u8; vault::SALT_LEN] = unhex(salt).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
    let sealed = unhex(sealed).ok_or_else(bad)?;
    let fields = keys
        .opener(&salt)
        .open(&context(&row.kind, &row.id), 0, 0, &sealed)
        .map_err(|_| bad())?;
    fields.into_iter().next().flatten().ok_or_else(bad)
}

/// What one flush moved into the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub batches: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
}

/// A new random id for an inbox row.
pub(crate) fn row_id() -> Result<String, EngineError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(EngineError::internal)?;
    Ok(hex(&b))
}

impl Engine {
    /// Adds a sealed report to the inbox; returns when it is durable.
    pub(crate) async fn inbox_add(&self, kind: Kind, record: &str) -> Result<(), EngineError> {
        let id = row_id()?;
        let sealed = seal(self.keys(), kind.name(), &id, record)?;
        let row = InboxRow {
            id,
            kind: kind.name().to_string(),
            received_at: Timestamp::now().millis(),
            sealed,
        };
        self.inner.inbox.add(row).await
    }

    /// Reports waiting in the inbox.
    pub async fn inbox_pending(&self) -> Result<i64, EngineError> {
        Ok(self.ops().inbox_pending().await?)
    }

    /// Moves every waiting report into the store: per kind, one source per batch, through the
    /// ordinary ingest (its rejects in the run's rejects file), then brings the trace index and
    /// the snapshot up to date. One ingest runs at a time.
    pub async fn flush_inbox(&self) -> Result<FlushReport, EngineError> {
        let _one_at_a_time = self.inner.writer.lock().await;
        let mut report = FlushReport::default();
        for kind in RESIDENT_KINDS {
            let now = Timestamp::now().millis();
            while let Some(batch) = self.ops().inbox_claim(kind.name(), now).await? {
                let rows = self.ops().inbox_rows(batch.batch).await?;
                let engine = self.clone();
                let summary = crate::background::run("flush", move || {
                    engine.ingest_batch(kind, batch.batch, &rows)
                })
                .await?;
                self.ops().inbox_done(batch.batch).await?;
                report.batches += 1;
                report.rows_accepted += summary.rows_accepted;
                report.rows_rejected += summary.rows_rejected;
            }
        }
        if report.batches > 0 {
            let engine = self.clone();
            crate::background::run("flush", move || engine.follow_new_sources()).await?;
        }
        Ok(report)
    }

    /// Ingests one batch as the source `resident:<kind>-<batch>.jsonl`, spooled in a private
    /// temporary folder outside the data dir for the length of the ingest.
    fn ingest_batch(
        &self,
        kind: Kind,
        batch: i64,
        rows: &[InboxRow],
    ) -> Result<ingest::Summary, EngineError> {
        let mut text = String::new();
        for row in rows {
            text.push_str(&open(self.keys(), row)?);
            text.push('\n');
        }
        let spool = tempfile::Builder::new()
            .prefix("fangyi-inbox-")
            .tempdir()
            .map_err(EngineError::internal)?;
        let file = spool.path().join(format!("{}.jsonl", kind.name()));
        std::fs::write(&file, text).map_err(EngineError::internal)?;
        let opts = ingest::Options {
            kind: Some(kind),
            source_name: Some(format!("resident:{}-{batch}.jsonl", kind.name())),
            ..ingest::Options::default()
        };
        let zone = self.snapshot()?.zone();
        let cancel = AtomicBool::new(false);
        crate::datadir::ingest_files(
            self.data(),
            self.keys(),
            zone,
            &[file],
            &opts,
            &|_| {},
            &cancel,
            || {},
        )
        .map_err(|e| EngineError::Internal(e.to_string()))
    }

    /// Flushes the inbox now and then every `every` until the process ends (the server runs
    /// it): reports reach the store, the codes and the traces within that time.
    pub async fn run_inbox_flusher(self, every: Duration) {
        loop {
            match self.flush_inbox().await {
                Ok(r) if r.batches > 0 => tracing::info!(
                    "residents' reports stored: {} ({} rejected) in {} batches",
                    r.rows_accepted,
                    r.rows_rejected,
                    r.batches
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("flushing residents' reports: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::derive(&vault::MasterKey::from_bytes([5; 32]))
    }

    #[test]
    fn a_sealed_record_opens_only_in_its_own_row() {
        let keys = keys();
        let record = r#"{"person_id":"11010519491231002X","time":"2020-02-01T08:00:00+08:00"}"#;
        let sealed = seal(&keys, "self_reports", "r1", record).unwrap();
        assert!(!sealed.contains("11010519491231002X"));
        let row = |id: &str, kind: &str, sealed: &str| InboxRow {
            id: id.into(),
            kind: kind.into(),
            received_at: 0,
            sealed: sealed.into(),
        };
        assert_eq!(
            open(&keys, &row("r1", "self_reports", &sealed)).unwrap(),
            record
        );
        assert!(open(&keys, &row("r2", "self_reports", &sealed)).is_err());
        assert!(open(&keys, &row("r1", "registrations", &sealed)).is_err());
        let other = Keys::derive(&vault::MasterKey::from_bytes([6; 32]));
        assert!(open(&other, &row("r1", "self_reports", &sealed)).is_err());
        for bad in ["", "zz:00", "00", "0:0", &sealed[..sealed.len() - 2]] {
            assert!(
                open(&keys, &row("r1", "self_reports", bad)).is_err(),
                "{bad}"
            );
        }
    }
}
