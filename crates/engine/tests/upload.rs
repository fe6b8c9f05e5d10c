//! Uploads through the engine: a file that cannot be read at all is bad input (an error that
//! says why), not an empty success, and leaves no source behind.

use fangyi_engine as engine;

use engine::{Account, Caller, Engine, EngineError, EngineOptions};
use privacy::{Purpose, Role, Scope};

fn admin() -> Caller {
    Caller::new(
        Account {
            name: "admin".into(),
            role: Role::Admin,
            scope: Scope {
                region: None,
                community: None,
                person: None,
            },
        },
        Purpose::DataManagement,
        "POST /api/v1/ingest/checkins",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_utf16_upload_is_refused_with_its_encoding_and_not_recorded() {
    // Regression: it was answered as a success with no rows (and once recorded, the same
    // bytes later said "already present").
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = vault::Keys::derive(&vault::MasterKey::from_bytes([12; 32]));
    let e = Engine::open(EngineOptions::new(&data), keys).await.unwrap();
    let text =
        "person_id,venue_id,time_in,time_out\n33030219800101006X,V1,2020-01-21T08:00:00+08:00,\n";
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    for round in 0..2 {
        let spool = dir.path().join(format!("spool-{round}"));
        std::fs::create_dir_all(&spool).unwrap();
        let upload = e.begin_upload(&admin(), "checkins", "csv").await.unwrap();
        let file = spool.join(upload.file_name());
        std::fs::write(&file, &utf16).unwrap();
        match e.ingest_file(upload, file).await {
            Err(EngineError::BadRequest(why)) => {
                assert!(why.contains("UTF-16 (little-endian)"), "{why}");
                assert!(!why.contains(dir.path().to_str().unwrap()), "{why}");
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
    let store = store::Store::open(
        &data,
        vault::Keys::derive(&vault::MasterKey::from_bytes([12; 32])).key_id(),
    )
    .unwrap();
    assert!(store.manifest().sources().is_empty());
}
