//! EU Digital COVID Certificate (`HC1:`) claims: the CWT (1 iss, 4 exp, 6 iat, -260 hcert → 1
//! the DCC itself), its certificate type (vaccination, test, recovery), and which types a
//! document signer's extended key usage allows.

use ciborium::Value;

use crate::VerifyError;
use crate::cose::{as_i64, map_get, to_json};

/// What a DCC certifies: its payload has a `v`, `t` or `r` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertType {
    Test,
    Vaccination,
    Recovery,
}

impl CertType {
    pub fn name(self) -> &'static str {
        match self {
            CertType::Test => "test",
            CertType::Vaccination => "vaccination",
            CertType::Recovery => "recovery",
        }
    }

    /// Extended key usage OIDs for DCC signers (the eHealth Network's arc and its later
    /// alternative): `…1847.2021.1.1` test, `.1.2` vaccination, `.1.3` recovery.
    fn from_oid(oid: &str) -> Option<CertType> {
        let last = oid
            .strip_prefix("1.3.6.1.4.1.1847.2021.1.")
            .or_else(|| oid.strip_prefix("1.3.6.1.4.1.0.1847.2021.1."))?;
        match last {
            "1" => Some(CertType::Test),
            "2" => Some(CertType::Vaccination),
            "3" => Some(CertType::Recovery),
            _ => None,
        }
    }

    /// The types a certificate with these EKU OIDs may sign: `None` (all) when it names none
    /// of the DCC OIDs.
    pub fn allowed_by(oids: &[String]) -> Option<Vec<CertType>> {
        let mut types: Vec<CertType> = oids.iter().filter_map(|o| CertType::from_oid(o)).collect();
        types.dedup();
        (!types.is_empty()).then_some(types)
    }
}

/// The claims of a DCC's CWT.
#[derive(Debug, Clone)]
pub struct DccClaims {
    pub iss: Option<String>,
    pub iat: Option<i64>,
    pub exp: Option<i64>,
    /// The DCC payload (`-260` → `1`): `ver`, `nam`, `dob` and one of `v`, `t`, `r`.
    pub hcert: Value,
}

impl DccClaims {
    /// Decodes the CWT claims of a COSE payload.
    pub fn decode(payload: &[u8]) -> Result<DccClaims, VerifyError> {
        let v = crate::cose::decode_exact(payload, "CWT claims").map_err(VerifyError::Claims)?;
        crate::cose::unique_keys(&v, "the CWT claims").map_err(VerifyError::Claims)?;
        let Value::Map(m) = v else {
            return Err(VerifyError::Claims("CWT claims are not a CBOR map".into()));
        };
        let hcert = match map_get(&m, -260) {
            Some(Value::Map(h)) => map_get(h, 1)
                .cloned()
                .ok_or_else(|| VerifyError::Claims("no DCC (-260 → 1) in the claims".into()))?,
            _ => return Err(VerifyError::Claims("no hcert claim (-260)".into())),
        };
        if !matches!(hcert, Value::Map(_)) {
            return Err(VerifyError::Claims(
                "the DCC (-260 → 1) is not a map".into(),
            ));
        }
        let int = |k: i64| -> Result<Option<i64>, VerifyError> {
            match map_get(&m, k) {
                None => Ok(None),
                Some(v) => as_i64(v).map(Some).ok_or_else(|| {
                    VerifyError::Claims(format!("claim {k} is not an integer time"))
                }),
            }
        };
        Ok(DccClaims {
            iss: match map_get(&m, 1) {
                Some(Value::Text(s)) => Some(s.clone()),
                _ => None,
            },
            iat: int(6)?,
            exp: int(4)?,
            hcert,
        })
    }

    /// The certificate types the payload holds (normally exactly one).
    pub fn cert_types(&self) -> Vec<CertType> {
        let Value::Map(m) = &self.hcert else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in m {
            let t = match k {
                Value::Text(s) if s == "v" => CertType::Vaccination,
                Value::Text(s) if s == "t" => CertType::Test,
                Value::Text(s) if s == "r" => CertType::Recovery,
                _ => continue,
            };
            if matches!(v, Value::Array(a) if !a.is_empty()) {
                out.push(t);
            }
        }
        out
    }

    /// Key usage: every type in the payload must be allowed (`allowed` `None` = all).
    pub fn check_key_usage(&self, allowed: Option<&[CertType]>) -> Result<(), VerifyError> {
        let Some(allowed) = allowed else {
            return Ok(());
        };
        for t in self.cert_types() {
            if !allowed.contains(&t) {
                return Err(VerifyError::KeyUsage {
                    cert_type: t.name().to_string(),
                    allowed: allowed
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(())
    }

    /// Expiry at `at`: refused after `exp` and before `iat`.
    pub fn check_time(&self, at: i64) -> Result<(), VerifyError> {
        if let Some(exp) = self.exp
            && at > exp
        {
            return Err(VerifyError::Expired {
                exp: crate::rfc3339(exp),
            });
        }
        if let Some(iat) = self.iat
            && at < iat
        {
            return Err(VerifyError::NotYetValid {
                iat: crate::rfc3339(iat),
            });
        }
        Ok(())
    }

    /// The claims as JSON: `iss`, `iat`, `exp` (RFC 3339), `type` and `dcc` (the payload).
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(serde::Serialize)]
        struct Shape {
            iss: Option<String>,
            iat: Option<String>,
            exp: Option<String>,
            #[serde(rename = "type")]
            kind: Option<&'static str>,
            dcc: serde_json::Value,
        }
        let shape = Shape {
            iss: self.iss.clone(),
            iat: self.iat.map(crate::rfc3339),
            exp: self.exp.map(crate::rfc3339),
            kind: self.cert_types().first().map(|t| t.name()),
            dcc: to_json(&self.hcert),
        };
        serde_json::to_value(shape).expect("serialisable")
    }
}
