//! This data dir's issuer of signed codes as its key holder keeps it (`fangyi keys`, `verify`,
//! `code revoke --code`): the issuer's key generations (derived from the master key, never
//! stored; the data dir holds their public side), the trust list, the revocations for offline
//! verifiers, and verifying a code offline. None of it shows a person, so none of it is a
//! question for `Engine::ask`; issuing and revoking a person's codes are (`signing.rs`).

use std::path::{Path, PathBuf};

use codesign::issuer::{self, Issuer};
use codesign::trust;
use codesign::{IssuerKey, MAX_TTL_SECS, RevocationList, TrustList, Verifier};
use model::{Region, Timestamp};
use ops::Ops;
use vault::Keys;

use crate::EngineError;

/// The trust hub and anchored trust lists (crate `exchange`): the hub's folder, the anchor's
/// key files, a deployment's acceptance of a pulled list. None of it shows a person.
pub use exchange as hub;

/// What verifying a code found: each check, the claims, the reason.
pub use codesign::Outcome;

fn no_issuer(data: &Path) -> EngineError {
    EngineError::Conflict(format!(
        "{} has no issuer key yet: run `fangyi keys init --region CODE` first",
        data.display()
    ))
}

fn failed(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(e.to_string())
}

/// The current generation's signing key, derived from the master key and checked against the
/// public key recorded in the data dir.
fn signing_key(keys: &Keys, issuer: &Issuer) -> Result<IssuerKey, EngineError> {
    let key = IssuerKey::from_seed(&keys.issuer_seed(issuer.current().generation));
    issuer.check_key(&key).map_err(failed)?;
    Ok(key)
}

/// An issuer just created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerStarted {
    pub region: String,
    /// Key generation 1's key id (base64).
    pub kid: String,
    /// The trust list written beside it.
    pub trust_list: PathBuf,
}

/// Creates the data dir's issuer for `region` with key generation 1 and writes its trust list;
/// a second issuer is a conflict.
pub fn init_issuer(data: &Path, keys: &Keys, region: Region) -> Result<IssuerStarted, EngineError> {
    if let Some(i) = Issuer::load(data).map_err(failed)? {
        return Err(EngineError::Conflict(format!(
            "{} already has an issuer for {} (key generation {}, kid {}); use `fangyi keys rotate` for a new key",
            data.display(),
            i.region,
            i.current().generation,
            i.current().kid
        )));
    }
    let key = IssuerKey::from_seed(&keys.issuer_seed(1));
    let issuer = Issuer::new(&region.to_string(), &key, Timestamp::now().secs());
    issuer.save(data).map_err(failed)?;
    sync_trust(&issuer, data)?;
    Ok(IssuerStarted {
        region: issuer.region,
        kid: codesign::b64(&key.kid()),
        trust_list: Issuer::trust_path(data),
    })
}

/// A key generation just made the signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotated {
    pub region: String,
    pub generation: u32,
    pub kid: String,
    pub retired_kid: String,
    /// Until when the retired key stays trusted (its codes' longest life), RFC 3339.
    pub retired_trusted_until: String,
}

/// Makes the next key generation the signer; the old one stays trusted until its codes expire.
pub fn rotate_issuer(data: &Path, keys: &Keys) -> Result<Rotated, EngineError> {
    let mut issuer = Issuer::load(data)
        .map_err(failed)?
        .ok_or_else(|| no_issuer(data))?;
    let old = signing_key(keys, &issuer)?;
    let generation = issuer.current().generation + 1;
    let next = IssuerKey::from_seed(&keys.issuer_seed(generation));
    let now = Timestamp::now().secs();
    issuer.rotate(&next, now);
    issuer.save(data).map_err(failed)?;
    sync_trust(&issuer, data)?;
    Ok(Rotated {
        region: issuer.region,
        generation,
        kid: codesign::b64(&next.kid()),
        retired_kid: codesign::b64(&old.kid()),
        retired_trusted_until: codesign::rfc3339(now + MAX_TTL_SECS),
    })
}

/// Writes the issuer's generations into the data dir's trust list, then drops what the trust
/// hub's accepted list revokes (a rotation must not put a revoked key back before the next
/// pull); returns the list as written.
fn sync_trust(issuer: &Issuer, data: &Path) -> Result<Vec<TrustEntry>, EngineError> {
    issuer.sync_trust(data).map_err(failed)?;
    hub::deploy::drop_revoked(data).map_err(hub_error)?;
    issuer::read_trust(data).map_err(failed)
}

/// Entries as a trust list file: a JSON array, one entry a line.
fn trust_text(entries: &[TrustEntry]) -> String {
    let mut text = String::from("[\n");
    for (i, e) in entries.iter().enumerate() {
        text.push_str("  ");
        text.push_str(&serde_json::to_string(e).expect("serialisable"));
        text.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
    }
    text.push_str("]\n");
    text
}

/// This issuer's trust list as a file's text, and how many keys it has; with `all`, also the
/// keys imported from elsewhere.
pub fn export_trust(data: &Path, all: bool) -> Result<(String, usize), EngineError> {
    let issuer = Issuer::load(data)
        .map_err(failed)?
        .ok_or_else(|| no_issuer(data))?;
    let entries = if all {
        sync_trust(&issuer, data)?
    } else {
        // A generation the trust hub revoked is not handed out again.
        let revoked = hub::deploy::revoked_kids(data).map_err(hub_error)?;
        issuer
            .trust_entries()
            .into_iter()
            .filter(|e| !hub::deploy::is_revoked(e, &revoked))
            .collect()
    };
    Ok((trust_text(&entries), entries.len()))
}

/// What [`import_trust`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustImport {
    pub incoming: usize,
    pub added: usize,
    pub updated: usize,
    /// Keys in the trust list now.
    pub total: usize,
}

/// Trusts the keys of another province's exported list `file` (every entry must be usable
/// before any is trusted).
pub fn import_trust(data: &Path, file: &Path) -> Result<TrustImport, EngineError> {
    let incoming = trust::read_entries(file).map_err(|e| EngineError::BadRequest(e.to_string()))?;
    TrustList::from_entries(&incoming)
        .map_err(|e| EngineError::BadRequest(format!("{}: {e}", file.display())))?;
    let mut entries = issuer::read_trust(data).map_err(failed)?;
    let (added, updated) = trust::merge(&mut entries, &incoming);
    trust::write_entries(&Issuer::trust_path(data), &entries).map_err(failed)?;
    Ok(TrustImport {
        incoming: incoming.len(),
        added,
        updated,
        total: entries.len(),
    })
}

/// The keys a data dir trusts.
#[derive(Clone, Debug)]
pub struct TrustedKeys {
    /// The issuer's region and its signing key generation, if the data dir has an issuer.
    pub signer: Option<(String, u32)>,
    /// Each key as `{"kid", "key", "region", "issuer", "not_after", "status"}` (status: signing
    /// or retired with its generation, or imported).
    pub keys: Vec<serde_json::Value>,
}

/// The keys the data dir trusts: its own generations and imported ones.
pub fn trusted_keys(data: &Path) -> Result<TrustedKeys, EngineError> {
    let issuer = Issuer::load(data).map_err(failed)?;
    let entries = issuer::read_trust(data).map_err(failed)?;
    let own = |e: &TrustEntry| {
        issuer.as_ref().and_then(|i| {
            i.generations
                .iter()
                .find(|gn| Some(&gn.public_key) == e.public_key.as_ref())
        })
    };
    let keys = entries
        .iter()
        .map(|e| {
            let key = e.resolve();
            let status = match own(e) {
                Some(gn) if gn.retired_at.is_none() => {
                    format!("signing (generation {})", gn.generation)
                }
                Some(gn) => format!("retired (generation {})", gn.generation),
                None => "imported".to_string(),
            };
            serde_json::json!({
                "kid": e.kid_b64(),
                "key": key.as_ref().map_or("invalid", |k| k.key.name()),
                "region": e.region,
                "issuer": e.issuer,
                "not_after": e.not_after,
                "status": status,
            })
        })
        .collect();
    let signer = issuer.map(|i| (i.region.clone(), i.current().generation));
    Ok(TrustedKeys { signer, keys })
}

/// The revocations not yet expired at `now`, from the deployment's operational database (none
/// when it has none yet).
async fn revocations(
    data: &Path,
    db: Option<&str>,
    now: i64,
) -> Result<Vec<ops::Revocation>, EngineError> {
    if db.is_none() && !Ops::path(data).exists() {
        return Ok(Vec::new());
    }
    let ops = Ops::open_for(data, db).await?;
    let r = ops.revocations(now).await;
    ops.close().await;
    Ok(r?)
}

/// The revoked, not yet expired code ids as a file for offline verifiers (`verify
/// --revoked`), and how many.
pub async fn export_revocations(
    data: &Path,
    db: Option<&str>,
) -> Result<(String, usize), EngineError> {
    let now = Timestamp::now().secs();
    let rows: Vec<_> = revocations(data, db, now)
        .await?
        .iter()
        .map(|r| (r.cti, r.revoked_at, r.exp.unwrap_or(now + MAX_TTL_SECS)))
        .collect();
    Ok((codesign::revocation::entries_text(&rows), rows.len()))
}

/// Revokes one code by its id (32 hex digits): the id as hex, and whether it was revoked now
/// (false: already). A malformed id is a bad request.
pub async fn revoke_code_id(
    data: &Path,
    db: Option<&str>,
    code: &str,
    reason: &str,
) -> Result<(String, bool), EngineError> {
    let cti = codesign::unhex(code)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .ok_or_else(|| EngineError::BadRequest("a code id is 32 hex digits".into()))?;
    let ops = Ops::open_for(data, db).await?;
    let r = ops.revoke_code(&cti, Timestamp::now().secs(), reason).await;
    ops.close().await;
    Ok((codesign::hex(&cti), r?))
}

/// The most a QR image to verify may hold (`fangyi verify --image`): a code's PNG is a few
/// KiB, a photo of one a few MiB.
pub const MAX_IMAGE_BYTES: u64 = 8 * model::files::MIB;

/// The bytes of an image file to verify ([`Presented::Png`]): a regular file of at most
/// [`MAX_IMAGE_BYTES`], so a pipe, a device or a folder is refused by name (a bad request).
pub fn read_image(path: &Path) -> Result<Vec<u8>, EngineError> {
    model::files::read(path, MAX_IMAGE_BYTES)
        .map_err(|e| EngineError::BadRequest(format!("{}: {e}", path.display())))
}

/// What a code to verify offline comes as.
pub enum Presented<'a> {
    /// The payload's text (`FY1:…`, `HC1:…`).
    Payload(&'a str),
    /// A PNG image holding it as a QR code.
    Png(&'a [u8]),
}

/// Where offline verification takes its trust and revocations from.
pub struct OfflineTrust<'a> {
    /// A trust list file; default the data dir's.
    pub trust: Option<&'a Path>,
    /// A revocations file (`keys export-revocations`); default the deployment's database, if
    /// it has one.
    pub revoked: Option<&'a Path>,
    pub db: Option<&'a str>,
}

/// Verifies a code offline at `at` (seconds): signature, key usage, expiry, revocation. The
/// second value says the data dir's trust list was empty (every signer unknown). A trust list
/// or revocations file that cannot be read is a bad request.
pub async fn verify_offline(
    data: &Path,
    code: Presented<'_>,
    from: OfflineTrust<'_>,
    at: i64,
) -> Result<(Outcome, bool), EngineError> {
    let bad = |e: codesign::CodesignError| EngineError::BadRequest(e.to_string());
    let (entries, no_trust) = match from.trust {
        Some(p) => (trust::read_entries(p).map_err(bad)?, false),
        None => {
            let entries = issuer::read_trust(data).map_err(failed)?;
            let empty = entries.is_empty();
            (entries, empty)
        }
    };
    let trust =
        TrustList::from_entries(&entries).map_err(|e| EngineError::BadRequest(e.to_string()))?;
    let revoked = match from.revoked {
        Some(p) => RevocationList::read(p).map_err(bad)?,
        None => {
            let mut list = RevocationList::default();
            for r in revocations(data, from.db, at.min(Timestamp::now().secs())).await? {
                list.insert(r.cti, r.revoked_at);
            }
            list
        }
    };
    let verifier = Verifier::new(trust, revoked);
    let outcome = match code {
        Presented::Payload(p) => verifier.verify(p, at),
        Presented::Png(bytes) => match codesign::qr::from_png(bytes) {
            Ok(text) => verifier.verify(&text, at),
            Err(e) => Outcome::undecodable(e),
        },
    };
    Ok((outcome, no_trust))
}

/// A payload drawn as a QR code in text for a terminal.
pub fn qr_terminal(payload: &str) -> Result<String, String> {
    codesign::qr::to_terminal(payload)
}

/// Writes `bytes` to `path` whole or not at all (a temporary file renamed into place).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    issuer::write_atomic(path, bytes).map_err(|e| e.to_string())
}

fn hub_error(e: hub::ExchangeError) -> EngineError {
    use hub::ExchangeError as X;
    match e {
        X::Bad(m) | X::Anchor(hub::AnchorError::BadAnchorKey(m)) => EngineError::BadRequest(m),
        X::Refused(m) | X::Conflict(m) => EngineError::Conflict(m),
        X::Anchor(a) => EngineError::Conflict(a.to_string()),
        e => EngineError::Internal(e.to_string()),
    }
}

/// This data dir's key submission to a trust hub: its issuer's trust entries signed by every
/// key generation still trusted (the current one, and a retired one until its `not_after`, so
/// that a hub which knows only the retired key accepts the new one).
pub fn hub_submission(data: &Path, keys: &Keys) -> Result<(String, Vec<u8>), EngineError> {
    let issuer = Issuer::load(data)
        .map_err(failed)?
        .ok_or_else(|| no_issuer(data))?;
    signing_key(keys, &issuer)?;
    let now = Timestamp::now().secs();
    let entries = issuer.trust_entries();
    let signers: Vec<IssuerKey> = issuer
        .generations
        .iter()
        .zip(&entries)
        .filter(|(_, e)| {
            e.not_after.as_deref().is_none_or(|t| {
                Timestamp::parse_rfc3339(t.as_bytes()).is_ok_and(|t| t.secs() > now)
            })
        })
        .map(|(g, _)| IssuerKey::from_seed(&keys.issuer_seed(g.generation)))
        .collect();
    let body = hub::submission::sign(
        &issuer.region,
        &entries,
        &signers,
        Timestamp::now().millis(),
    );
    Ok((issuer.region, body))
}

/// Accepts a signed trust list pulled from a hub (`source`: its URL) if `anchor` signed it and
/// it is newer than the one accepted; the data dir's trust list is then replaced atomically.
pub fn accept_hub_list(
    data: &Path,
    bytes: &[u8],
    anchor: &hub::AnchorPublic,
    source: &str,
) -> Result<hub::PullOutcome, EngineError> {
    hub::deploy::accept(data, bytes, anchor, source, Timestamp::now().secs()).map_err(hub_error)
}

/// Trust entries as a file of them holds (a province's key file for the hub); a bad request
/// when it is not one.
pub fn read_trust_file(path: &Path) -> Result<Vec<TrustEntry>, EngineError> {
    trust::read_entries(path).map_err(|e| EngineError::BadRequest(e.to_string()))
}

/// One entry of a trust list.
pub use codesign::trust::TrustEntry;

/// The list this data dir accepted from a hub last, if any.
pub fn hub_accepted(data: &Path) -> Result<Option<hub::Accepted>, EngineError> {
    hub::deploy::accepted(data).map_err(hub_error)
}
