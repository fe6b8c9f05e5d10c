//! Signed codes through the boundary: issuing a person's code as an `FY1:` payload (recorded
//! for revocation), revoking a person's live codes, and verifying a presented payload against
//! the data dir's trust list and the revocations in the operational database.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codesign::issuer::Issuer;
use codesign::{Claims, IssuerKey, MAX_TTL_SECS, RevocationList, TrustList, Verifier, b64, hex};
use model::PersonId;
use ops::IssuedCode;
use privacy::Action;
use rules::HealthCode;
use serde::Serialize;
use vault::Keys;

use crate::ask::{Answer, Asking, Async, Ctx};
use crate::codes::require_in_scope;
use crate::{Caller, Engine, EngineError, parse_as_of_date, parse_person};

/// A code signed: the payload, and what to record of it.
#[derive(Clone, Debug)]
pub struct Signed {
    pub payload: String,
    pub claims: Claims,
    pub record: IssuedCode,
    /// Base64 key id of the signing key, and its generation.
    pub kid: String,
    pub generation: u32,
}

/// The issuer of the data dir with its current generation's key, derived from the master key
/// and checked against the public key the data dir records.
pub struct Signer {
    pub issuer: Issuer,
    pub(crate) key: IssuerKey,
}

impl Signer {
    pub fn new(keys: &Keys, issuer: Issuer) -> Result<Signer, EngineError> {
        let key = IssuerKey::from_seed(&keys.issuer_seed(issuer.current().generation));
        issuer
            .check_key(&key)
            .map_err(|e| EngineError::Unavailable(e.to_string()))?;
        Ok(Signer { issuer, key })
    }
}

/// The signer a server keeps while the issuer file stays the same (its modification time and
/// length): reading and parsing it and deriving the key on every code would cost more than
/// the signature; a rotation by another process rewrites the file and is seen at once.
#[derive(Default)]
pub(crate) struct SignerCache(Mutex<Option<(FileStamp, Arc<Signer>)>>);

type FileStamp = (std::time::SystemTime, u64);

/// Signs a person's evaluated code with the issuer's current key generation; `ttl` in hours.
pub fn sign_code(
    keys: &Keys,
    signer: &Signer,
    code: &HealthCode,
    id: PersonId,
    ttl: u32,
    now: i64,
) -> Result<Signed, EngineError> {
    if ttl == 0 || i64::from(ttl) * 3600 > MAX_TTL_SECS {
        return Err(EngineError::BadRequest(format!(
            "ttl {ttl}: hours between 1 and {}",
            MAX_TTL_SECS / 3600
        )));
    }
    let (issuer, key) = (&signer.issuer, &signer.key);
    let generation = issuer.current().generation;
    let claims = Claims {
        iss: issuer.region.clone(),
        iat: now,
        exp: now + i64::from(ttl) * 3600,
        cti: Claims::new_cti(),
        sub: keys.code_subject(id),
        color: code.color,
        valid_until: code.valid_until.map(|d| d.to_string()),
        as_of: code.as_of.to_string(),
    };
    let payload = key.sign(&claims);
    let kid = b64(&key.kid());
    let record = IssuedCode {
        cti: claims.cti,
        subject: claims.sub,
        issued: claims.iat,
        exp: claims.exp,
        kid: kid.clone(),
        color: claims.color.as_str().to_string(),
    };
    Ok(Signed {
        payload,
        claims,
        record,
        kid,
        generation,
    })
}

/// `POST /persons/{id}/code/issue`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct IssuedView {
    pub payload: String,
    pub kid: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub claims: serde_json::Value,
}

/// `POST /persons/{id}/code/revoke`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct RevokedView {
    pub person_id: String,
    /// Ids (hex) of the codes revoked.
    pub revoked: Vec<String>,
}

/// How long a built verifier (trust list and revocations) is reused before it is rebuilt.
const VERIFIER_TTL: Duration = Duration::from_secs(2);

/// The verifier cache a server keeps.
#[derive(Default)]
pub(crate) struct VerifierCache(Mutex<Option<(Instant, Arc<Verifier>)>>);

impl VerifierCache {
    pub fn clear(&self) {
        *self.0.lock().expect("verifier cache") = None;
    }
}

impl Engine {
    /// The issuer and its current key, from the cache while the issuer file is unchanged.
    pub(crate) fn signer(&self) -> Result<Arc<Signer>, EngineError> {
        let path = Issuer::path(self.data());
        let none = || {
            EngineError::Unavailable(
                "this deployment has no issuer key yet (`fangyi keys init --region CODE`)".into(),
            )
        };
        let stamp = match std::fs::metadata(&path) {
            Ok(m) => (m.modified().map_err(EngineError::internal)?, m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(none()),
            Err(e) => return Err(EngineError::internal(e)),
        };
        let cache = &self.inner.signers;
        if let Some((at, signer)) = &*cache.0.lock().expect("signer cache")
            && *at == stamp
        {
            return Ok(signer.clone());
        }
        let issuer = Issuer::load(self.data())
            .map_err(EngineError::internal)?
            .ok_or_else(none)?;
        let signer = Arc::new(Signer::new(&self.inner.keys, issuer)?);
        *cache.0.lock().expect("signer cache") = Some((stamp, signer.clone()));
        Ok(signer)
    }

    /// Evaluates, signs and records a person's code; `ttl` in hours (default 24).
    pub async fn issue_code(
        &self,
        caller: &Caller,
        person_id: &str,
        as_of: Option<&str>,
        ttl: Option<u32>,
    ) -> Result<IssuedView, EngineError> {
        let person_id = person_id.to_string();
        let as_of = as_of.map(str::to_string);
        let ttl = ttl.unwrap_or(24);
        let work = Async(move |asking: Asking| async move {
            let signed = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let id = parse_person(&person_id)?;
                    let as_of = parse_as_of_date(as_of.as_deref(), ctx.zone())?;
                    let p = ctx.keys.pseudonyms.pseudonym(id);
                    let view = ctx.view()?;
                    // The scope first: someone who may not have this person's code learns
                    // nothing about the deployment either.
                    require_in_scope(&view, p, "this person")?;
                    let signer = ctx.engine.signer()?;
                    let code =
                        ctx.code_engine()
                            .code(ctx.rules, p, as_of, &|c| view.masked_id(c));
                    // A signed code travels on its own: only a registered person gets one.
                    if !ctx.registered(p)? {
                        return Err(EngineError::NotFound(format!(
                            "{} is not registered (no row in persons: not_registered); a signed code is issued only to a registered person",
                            view.masked_id(p)
                        )));
                    }
                    view.id(p);
                    sign_code(ctx.keys, &signer, &code, id, ttl, model::Timestamp::now().secs())
                })
                .await?;
            let value = IssuedView {
                payload: signed.payload,
                kid: signed.kid,
                claims: signed.claims.to_json(),
            };
            // Recorded with the request's entry before the answer leaves, so every code
            // handed out can be revoked.
            Ok(Answer::new(value, 1).issuing(signed.record))
        });
        self.ask(caller, Action::IssueCode, work).await
    }

    /// Revokes every live code of a person.
    pub async fn revoke_codes(
        &self,
        caller: &Caller,
        person_id: &str,
        reason: &str,
    ) -> Result<RevokedView, EngineError> {
        let person_id = person_id.to_string();
        let reason = match reason.trim() {
            "" => format!("revoked by {}", caller.account.name),
            r => r.to_string(),
        };
        let work = Async(move |asking: Asking| async move {
            // Scope first; the revocation itself is a write to the operational db.
            let (id, shown) = asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let id = parse_person(&person_id)?;
                    let p = ctx.keys.pseudonyms.pseudonym(id);
                    let view = ctx.view()?;
                    require_in_scope(&view, p, "this person")?;
                    Ok((id, view.id(p)))
                })
                .await?;
            let engine = asking.engine();
            let subject = engine.keys().code_subject(id);
            let codes = engine
                .ops()
                .revoke_subject(&subject, model::Timestamp::now().secs(), &reason)
                .await?;
            engine.inner.signed_codes.forget();
            engine.inner.verifiers.clear();
            let value = RevokedView {
                person_id: shown,
                revoked: codes.iter().map(|c| hex(&c.cti)).collect(),
            };
            Ok(Answer::new(value, 1))
        });
        self.ask(caller, Action::RevokeCode, work).await
    }

    /// The verifier with the current trust list and revocations (rebuilt every 2 s at most).
    async fn verifier(&self) -> Result<Arc<Verifier>, EngineError> {
        if let Some((at, v)) = self
            .inner
            .verifiers
            .0
            .lock()
            .expect("verifier cache")
            .as_ref()
            && at.elapsed() < VERIFIER_TTL
        {
            return Ok(v.clone());
        }
        let entries = codesign::issuer::read_trust(self.data()).map_err(EngineError::internal)?;
        let trust = TrustList::from_entries(&entries).map_err(EngineError::internal)?;
        let mut revoked = RevocationList::default();
        for r in self
            .ops()
            .revocations(model::Timestamp::now().secs())
            .await?
        {
            revoked.insert(r.cti, r.revoked_at);
        }
        let v = Arc::new(Verifier::new(trust, revoked));
        *self.inner.verifiers.0.lock().expect("verifier cache") = Some((Instant::now(), v.clone()));
        Ok(v)
    }

    /// Verifies a presented payload (`FY1:` or `HC1:`) now: the contract's verify JSON, fields
    /// in the contract's order. The answer names no one (a code's subject is a pseudonym); the
    /// check is audited all the same.
    pub async fn verify_code(&self, caller: &Caller, payload: &str) -> Result<String, EngineError> {
        let payload = payload.to_string();
        let work = Async(move |asking: Asking| async move {
            if payload.len() > 8192 {
                return Err(EngineError::BadRequest(
                    "the payload is longer than any QR code holds".into(),
                ));
            }
            let verifier = asking.engine().verifier().await?;
            let outcome = verifier.verify(payload.trim(), model::Timestamp::now().secs());
            let answer = Answer::new(outcome.to_json_string(), 1);
            Ok(if outcome.valid() {
                answer
            } else {
                answer.outcome(format!("ok: not valid: {}", outcome.reason()))
            })
        });
        self.ask(caller, Action::VerifyCode, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EngineOptions, issuer_api, test_city};

    /// The signer is kept between codes, and a rotation written by another process (the CLI
    /// next to a running server) is used for the very next code.
    #[tokio::test]
    async fn the_signer_is_kept_until_the_issuer_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let engine = Engine::open(EngineOptions::new(&data), test_city::keys())
            .await
            .unwrap();
        assert!(matches!(engine.signer(), Err(EngineError::Unavailable(_))));
        let keys = test_city::keys();
        issuer_api::init_issuer(&data, &keys, "330302".parse().unwrap()).unwrap();
        let first = engine.signer().unwrap();
        assert_eq!(first.issuer.current().generation, 1);
        assert!(Arc::ptr_eq(&first, &engine.signer().unwrap()), "kept");
        issuer_api::rotate_issuer(&data, &keys).unwrap();
        let second = engine.signer().unwrap();
        assert_eq!(second.issuer.current().generation, 2);
        assert_ne!(b64(&first.key.kid()), b64(&second.key.kid()));
        // Another master key fails loudly rather than signing with a key nobody trusts.
        let other = Engine::open(
            EngineOptions::new(&data),
            Keys::derive(&vault::MasterKey::from_bytes([9; 32])),
        )
        .await
        .unwrap();
        assert!(matches!(other.signer(), Err(EngineError::Unavailable(_))));
    }
}
