//! The index build in a memory budget: a budget so small that the build spills many sorted
//! runs writes the same segment, byte for byte, as one that sorts everything in memory, so
//! every trace answers the same; its scratch files go after success and after an error, and
//! an error leaves no segment behind.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use fangyi_trace::{Index, MemoryBudget, TraceError, Tracer, update_within};
use model::Zone;
use store::{Store, Writer};
use vault::{Keys, MasterKey};

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([9; 32]))
}

/// A generated city ingested into `DIR/data`.
fn city(dir: &Path) -> PathBuf {
    let input = dir.join("input");
    let config = synth::Config {
        persons: 3_000,
        days: 10,
        ..synth::Config::default()
    };
    synth::generate(&config, &input, &|_| {}, &AtomicBool::new(false)).unwrap();
    let data = dir.join("data");
    let k = keys();
    let mut w = Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap();
    ingest::run(
        &mut w,
        &k,
        &[input],
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    data
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn index_dir(data: &Path) -> PathBuf {
    fangyi_trace::index::index_dir(data)
}

/// The index folder's entries, by name.
fn entries(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(index_dir(data))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn no_scratch_left(data: &Path) {
    for name in entries(data) {
        assert!(
            !name.starts_with("build-") && !name.ends_with(".tmp"),
            "{name} left in the index folder"
        );
    }
}

const MIB: u64 = 1 << 20;

#[test]
fn a_tiny_budget_spills_and_writes_the_same_segment() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path());
    let small = dir.path().join("small");
    let large = dir.path().join("large");
    copy_dir(&data, &small);
    copy_dir(&data, &large);
    let k = keys();
    let open = |d: &Path| Store::open(d, k.key_id()).unwrap();

    let tiny = update_within(&open(&small), MemoryBudget::bytes(MIB), &|_| {}).unwrap();
    let roomy = update_within(&open(&large), MemoryBudget::bytes(1024 * MIB), &|_| {}).unwrap();
    assert!(
        tiny.stats.runs >= 4,
        "1 MiB should spill many runs: {:?}",
        tiny.stats
    );
    assert_eq!(roomy.stats.runs, 0, "1 GiB holds it all: {:?}", roomy.stats);
    assert!(
        tiny.stats.events > 20_000,
        "a city's worth: {:?}",
        tiny.stats
    );
    assert_eq!(
        (tiny.stats.events, tiny.stats.groups, tiny.stats.labs),
        (roomy.stats.events, roomy.stats.groups, roomy.stats.labs)
    );
    assert_eq!(
        (tiny.stats.arrivals, tiny.stats.fevers, tiny.stats.bytes),
        (roomy.stats.arrivals, roomy.stats.fevers, roomy.stats.bytes)
    );
    let segment = |d: &Path| std::fs::read(index_dir(d).join("seg-000000.fyx")).unwrap();
    assert!(segment(&small) == segment(&large), "segments differ");
    no_scratch_left(&small);
    no_scratch_left(&large);

    // Every case traces the same (to degree 2), and the case list itself.
    let (si, li) = (
        Index::open(&open(&small)).unwrap(),
        Index::open(&open(&large)).unwrap(),
    );
    let (st, lt) = (Tracer::new(&si, Zone::CST), Tracer::new(&li, Zone::CST));
    let as_of = model::Date::from_ymd(2020, 3, 1)
        .unwrap()
        .end_of_day(Zone::CST)
        .millis();
    let cases = st.cases(as_of);
    assert_eq!(cases, lt.cases(as_of));
    assert!(!cases.is_empty(), "the generated outbreak has cases");
    let mut contacts = 0;
    for &(case, _) in &cases {
        let a = st.trace(case, as_of, 2).unwrap();
        assert_eq!(a, lt.trace(case, as_of, 2).unwrap());
        contacts += a.contacts.len();
    }
    assert!(contacts > 0, "cases have contacts");
}

#[test]
fn an_error_leaves_no_segment_and_no_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path());
    // A stored file gone from under the store: reading it fails midway.
    let tables = data.join("tables");
    let victim = walk(&tables)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("checkins"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a check-ins file");
    std::fs::remove_file(&victim).unwrap();
    let store = Store::open(&data, keys().key_id()).unwrap();
    let e = update_within(&store, MemoryBudget::bytes(MIB), &|_| {}).unwrap_err();
    assert!(
        matches!(e, TraceError::Store(_) | TraceError::Io { .. }),
        "{e}"
    );
    no_scratch_left(&data);
    assert!(
        entries(&data)
            .iter()
            .all(|n| !n.starts_with("seg-") && n != "index.json"),
        "nothing committed: {:?}",
        entries(&data)
    );
    assert!(Index::open(&store).unwrap().events() == 0);
}

#[test]
fn a_crashed_builds_scratch_is_cleared_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let data = city(dir.path());
    let idx = index_dir(&data);
    std::fs::create_dir_all(idx.join("build-seg-000007.fyx")).unwrap();
    std::fs::write(idx.join("build-seg-000007.fyx").join("00001-events"), b"x").unwrap();
    std::fs::write(idx.join("seg-000007.fyx.tmp"), b"half").unwrap();
    let store = Store::open(&data, keys().key_id()).unwrap();
    update_within(&store, MemoryBudget::bytes(MIB), &|_| {}).unwrap();
    no_scratch_left(&data);
    assert!(Index::open(&store).unwrap().events() > 0);
}

/// A generated city's record files in `DIR/input` (the ground truth's folder aside).
fn generated_files(dir: &Path, persons: u64, days: u32) -> Vec<PathBuf> {
    let input = dir.join("input");
    let config = synth::Config {
        persons,
        days,
        ..synth::Config::default()
    };
    synth::generate(&config, &input, &|_| {}, &AtomicBool::new(false)).unwrap();
    std::fs::read_dir(&input)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect()
}

#[test]
fn past_six_segments_merge_into_what_a_rebuild_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = generated_files(dir.path(), 2_000, 8);
    files.sort();
    assert!(files.len() >= 14, "{files:?}");
    let data = dir.path().join("data");
    let k = keys();
    // Seven batches: six segments, then the seventh update merges them with its own.
    for batch in 0..7 {
        let part: Vec<PathBuf> = files.iter().skip(batch).step_by(7).cloned().collect();
        let mut w = Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap();
        ingest::run(
            &mut w,
            &k,
            &part,
            &ingest::Options::default(),
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        drop(w);
        let store = Store::open(&data, k.key_id()).unwrap();
        let r = update_within(&store, MemoryBudget::bytes(MIB), &|_| {}).unwrap();
        assert_eq!(r.merged, if batch == 6 { 6 } else { 0 }, "batch {batch}");
        assert_eq!(r.segments, if batch == 6 { 1 } else { batch + 1 });
        assert!(!r.rebuilt);
        no_scratch_left(&data);
    }
    let rebuilt = dir.path().join("rebuilt");
    copy_dir(&data, &rebuilt);
    let store = Store::open(&rebuilt, k.key_id()).unwrap();
    fangyi_trace::index::remove(&store).unwrap();
    let r = update_within(&store, MemoryBudget::bytes(1024 * MIB), &|_| {}).unwrap();
    assert!(r.rebuilt || r.sources_indexed > 0);
    let only = |d: &Path| {
        let segs: Vec<String> = entries(d)
            .into_iter()
            .filter(|n| n.starts_with("seg-"))
            .collect();
        assert_eq!(segs.len(), 1, "{segs:?}");
        std::fs::read(index_dir(d).join(&segs[0])).unwrap()
    };
    assert!(
        only(&data) == only(&rebuilt),
        "merged and rebuilt segments differ"
    );
    let store = Store::open(&data, k.key_id()).unwrap();
    let index = Index::open(&store).unwrap();
    assert_eq!(index.segment_count(), 1);
    assert!(index.events() > 10_000);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A flush of residents' reports every few seconds adds small segments; merging them must not
/// rewrite the large segment of everything before (it did: every sixth update rewrote it all).
#[test]
fn small_arrivals_merge_among_themselves_not_into_the_large_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = generated_files(dir.path(), 3_000, 10);
    // The six smallest files of kinds the index holds arrive one by one after all the others.
    files.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let indexed = |p: &PathBuf| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let kind = name.split(['-', '.']).next().unwrap().to_string();
        fangyi_trace::index::INDEXED_KINDS
            .iter()
            .any(|k| k.name() == kind)
    };
    let small: Vec<PathBuf> = files
        .iter()
        .filter(|p| indexed(p))
        .take(6)
        .cloned()
        .collect();
    assert_eq!(small.len(), 6, "{files:?}");
    let large: Vec<PathBuf> = files
        .iter()
        .filter(|p| !small.contains(p))
        .cloned()
        .collect();
    let data = dir.path().join("data");
    let k = keys();
    let mut batches = vec![large];
    batches.extend(small.iter().map(|f| vec![f.clone()]));
    let mut merged = 0;
    for (n, batch) in batches.iter().enumerate() {
        let mut w = Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap();
        ingest::run(
            &mut w,
            &k,
            batch,
            &ingest::Options::default(),
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        drop(w);
        let store = Store::open(&data, k.key_id()).unwrap();
        let r = update_within(&store, MemoryBudget::bytes(64 * MIB), &|_| {}).unwrap();
        assert!(
            r.segments <= fangyi_trace::index::MAX_SEGMENTS,
            "update {n}: {r:?}"
        );
        merged += r.merged;
    }
    assert!(merged >= 2, "the seventh update merged the newest segments");
    assert!(
        entries(&data).contains(&"seg-000000.fyx".to_string()),
        "the large first segment was rewritten: {:?}",
        entries(&data)
    );
    no_scratch_left(&data);

    // The same answers as an index rebuilt whole.
    let rebuilt = dir.path().join("rebuilt");
    copy_dir(&data, &rebuilt);
    let open = |d: &Path| Store::open(d, k.key_id()).unwrap();
    fangyi_trace::index::remove(&open(&rebuilt)).unwrap();
    update_within(&open(&rebuilt), MemoryBudget::bytes(1024 * MIB), &|_| {}).unwrap();
    let (ti, ri) = (
        Index::open(&open(&data)).unwrap(),
        Index::open(&open(&rebuilt)).unwrap(),
    );
    assert!(ti.segment_count() > 1 && ri.segment_count() == 1);
    assert_eq!(ti.events(), ri.events());
    let (tt, rt) = (Tracer::new(&ti, Zone::CST), Tracer::new(&ri, Zone::CST));
    let as_of = model::Date::from_ymd(2020, 3, 1)
        .unwrap()
        .end_of_day(Zone::CST)
        .millis();
    let cases = tt.cases(as_of);
    assert_eq!(cases, rt.cases(as_of));
    assert!(!cases.is_empty());
    // Evidence names its group by segment and number, which differ between the two layouts;
    // everything else must be the same.
    let plain = |t: fangyi_trace::Trace| {
        t.contacts
            .into_iter()
            .map(|c| {
                let evidence: Vec<_> = c
                    .evidence
                    .iter()
                    .map(|e| (e.from, e.to, format!("{:?}", e.via)))
                    .collect();
                let facts = (c.person, c.degree, c.via, c.is_case);
                (
                    facts,
                    c.first_exposure,
                    c.last_exposure,
                    c.quarantine_until,
                    evidence,
                )
            })
            .collect::<Vec<_>>()
    };
    let mut contacts = 0;
    for &(case, _) in &cases {
        let (a, b) = (
            tt.trace(case, as_of, 2).unwrap(),
            rt.trace(case, as_of, 2).unwrap(),
        );
        assert_eq!(a.info, b.info);
        contacts += a.contacts.len();
        assert_eq!(plain(a), plain(b));
    }
    assert!(contacts > 0);
}
