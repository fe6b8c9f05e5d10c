//! Criterion benchmark of validated ingest: 200,000 `travel` CSV rows into a fresh data dir,
//! on one worker thread and on all cores; plain (the byte-split fast path) and with every
//! field quoted, as spreadsheet exports write them (the general record rule).

use std::io::Write;
use std::sync::atomic::AtomicBool;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fangyi_ingest::{Options, run};
use model::{Date, PersonId, Zone};
use store::Writer;
use vault::{Keys, MasterKey};

const ROWS: u64 = 200_000;

fn travel_csv(path: &std::path::Path, quoted: bool) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut plain = Vec::new();
    writeln!(out, "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time").unwrap();
    for i in 0..ROWS {
        let id = PersonId::from_parts(
            330302 + (i % 7) as u32,
            // Born 1978-2011: never in the future, whenever the bench runs.
            Date(3000 + (i % 15_000) as i32),
            (i / 20_000 % 1000) as u32,
        )
        .unwrap();
        let day = 14 + i % 18;
        plain.clear();
        writeln!(
            plain,
            "{id},rail,G{},2020-01-{day},{:02},{:02}F,汉口站,420100,2020-01-{day}T{:02}:10:00+08:00,温州南站,330302,2020-01-{day}T{:02}:40:00+08:00",
            1000 + i % 300,
            1 + i % 16,
            1 + i % 18,
            6 + i % 8,
            14 + i % 8
        )
        .unwrap();
        if quoted {
            let line = std::str::from_utf8(&plain).unwrap().trim_end();
            let fields: Vec<String> = line.split(',').map(|f| format!("\"{f}\"")).collect();
            writeln!(out, "{}", fields.join(",")).unwrap();
        } else {
            out.write_all(&plain).unwrap();
        }
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::derive(&MasterKey::from_bytes([5; 32]));
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(ROWS));
    group.sample_size(10);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    for (quoted, name) in [(false, "travel_csv"), (true, "travel_csv_quoted")] {
        // The kind is the name's stem up to a `-`.
        let input = dir.path().join(format!("travel-{name}.csv"));
        travel_csv(&input, quoted);
        for threads in [1, cores] {
            group.bench_function(format!("{name}_{threads}_threads"), |b| {
                let mut n = 0;
                b.iter(|| {
                    n += 1;
                    let data = dir.path().join(format!("data-{name}-{threads}-{n}"));
                    let mut w = Writer::open(&data, keys.key_id(), Zone::CST, || {}).unwrap();
                    let opts = Options {
                        threads,
                        ..Options::default()
                    };
                    let s = run(
                        &mut w,
                        &keys,
                        std::slice::from_ref(&input),
                        &opts,
                        &|_| {},
                        &AtomicBool::new(false),
                    )
                    .unwrap();
                    assert_eq!(s.rows_accepted, ROWS);
                    drop(w);
                    std::fs::remove_dir_all(&data).unwrap();
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
