//! Market supervision leads (contract §9) and their workflow: stored when a scan first finds a
//! seller or shop, their figures refreshed by later scans while open, and every status change
//! kept in order with who made it. Notes arrive sealed (the engine seals them); the database
//! holds them as hex.

use sqlx::Row;

use crate::workflow::{ItemId, Move, Step, Workflow};
use crate::{Ops, OpsError};

/// Where a lead stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LeadStatus {
    New,
    Assigned,
    Verified,
    Closed,
    Dismissed,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 5] = [
        LeadStatus::New,
        LeadStatus::Assigned,
        LeadStatus::Verified,
        LeadStatus::Closed,
        LeadStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Assigned => "assigned",
            LeadStatus::Verified => "verified",
            LeadStatus::Closed => "closed",
            LeadStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<LeadStatus> {
        LeadStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still being worked: a new scan refreshes it.
    pub fn is_open(self) -> bool {
        !matches!(self, LeadStatus::Closed | LeadStatus::Dismissed)
    }

    /// The workflow: one step forward at a time, or dismissed from any open state.
    pub fn may_become(self, to: LeadStatus) -> bool {
        use LeadStatus::*;
        matches!(
            (self, to),
            (New, Assigned) | (Assigned, Verified) | (Verified, Closed)
        ) || (self.is_open() && to == Dismissed)
    }
}

/// A lead as a scan computed it, to be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadRecord {
    /// `seller:<credit code>` or `shop:<platform>/<shop id>`: the key a new scan is matched by.
    pub subject: String,
    /// Empty when the listings name no seller.
    pub seller_enterprise_id: String,
    /// Empty for a seller's lead.
    pub platform: String,
    pub shop_id: String,
    /// Empty when no listing gave a region.
    pub county: String,
    /// Rule ids, sorted, comma-separated.
    pub rules: String,
    pub listings: i64,
    pub captures: i64,
    pub sales: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A stored lead with its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLead {
    pub id: i64,
    pub record: LeadRecord,
    pub status: LeadStatus,
    pub created_at: i64,
    pub updated_at: i64,
    /// Empty until someone changes the status.
    pub updated_by: String,
    /// The latest note, sealed; empty for none.
    pub note: Vec<u8>,
}

/// One status change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadEvent {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub from: LeadStatus,
    pub to: LeadStatus,
    /// Sealed; empty for none.
    pub note: Vec<u8>,
}

/// What a sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeadSync {
    pub created: u64,
    pub updated: u64,
    /// Closed or dismissed leads with nothing flagged after them, left as they were.
    pub unchanged: u64,
}

/// What a status change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeadMove {
    /// Moved from this status.
    Moved(LeadStatus),
    /// The workflow does not allow it from this status; nothing changed.
    Refused(LeadStatus),
}

const COLUMNS: &str = "id, subject, seller_enterprise_id, platform, shop_id, county, rules, \
                       listings, captures, sales, first_seen, last_seen, status, created_at, \
                       updated_at, updated_by, note";

/// How many times creating a lead retries when another writer took the next id first.
const TRIES: usize = 8;

fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

impl Ops {
    fn lead_status_of(&self, s: &str) -> Result<LeadStatus, OpsError> {
        LeadStatus::parse(s).ok_or_else(|| self.malformed("lead status"))
    }

    fn lead_of(&self, r: &sqlx::any::AnyRow) -> Result<StoredLead, OpsError> {
        let note: String = r.get("note");
        Ok(StoredLead {
            id: r.get("id"),
            record: LeadRecord {
                subject: r.get("subject"),
                seller_enterprise_id: r.get("seller_enterprise_id"),
                platform: r.get("platform"),
                shop_id: r.get("shop_id"),
                county: r.get("county"),
                rules: r.get("rules"),
                listings: r.get("listings"),
                captures: r.get("captures"),
                sales: r.get("sales"),
                first_seen: r.get("first_seen"),
                last_seen: r.get("last_seen"),
            },
            status: self.lead_status_of(&r.get::<String, _>("status"))?,
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
            updated_by: r.get("updated_by"),
            note: unhex(&note).ok_or_else(|| self.malformed("lead note"))?,
        })
    }

    /// Stores what a scan found: the subject's open lead gets the new figures; a subject whose
    /// leads are all closed or dismissed gets a new lead only when something was flagged after
    /// the latest of them (`last_seen` later), so scanning the same captures again changes
    /// nothing.
    pub async fn sync_leads(
        &self,
        leads: &[LeadRecord],
        now_ms: i64,
    ) -> Result<LeadSync, OpsError> {
        let mut done = LeadSync::default();
        for l in leads {
            let mut tries = 0;
            loop {
                tries += 1;
                let latest = sqlx::query(
                    "SELECT id, status, last_seen FROM market_leads WHERE subject = $1 \
                     ORDER BY id DESC LIMIT 1",
                )
                .bind(&l.subject)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.db(e))?;
                let _turn = self.write_turn().await;
                if let Some(r) = &latest {
                    let status = self.lead_status_of(&r.get::<String, _>("status"))?;
                    if status.is_open() {
                        sqlx::query(
                            "UPDATE market_leads SET county = $1, rules = $2, listings = $3, \
                             captures = $4, sales = $5, first_seen = $6, last_seen = $7 \
                             WHERE id = $8",
                        )
                        .bind(&l.county)
                        .bind(&l.rules)
                        .bind(l.listings)
                        .bind(l.captures)
                        .bind(l.sales)
                        .bind(l.first_seen)
                        .bind(l.last_seen)
                        .bind(r.get::<i64, _>("id"))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| self.db(e))?;
                        done.updated += 1;
                        break;
                    }
                    if l.last_seen <= r.get::<i64, _>("last_seen") {
                        done.unchanged += 1;
                        break;
                    }
                }
                let inserted = sqlx::query(
                    "INSERT INTO market_leads (id, subject, seller_enterprise_id, platform, \
                     shop_id, county, rules, listings, captures, sales, first_seen, last_seen, \
                     status, created_at, updated_at, updated_by, note) \
                     SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                     $11, 'new', $12, $13, '', '' FROM market_leads",
                )
                .bind(&l.subject)
                .bind(&l.seller_enterprise_id)
                .bind(&l.platform)
                .bind(&l.shop_id)
                .bind(&l.county)
                .bind(&l.rules)
                .bind(l.listings)
                .bind(l.captures)
                .bind(l.sales)
                .bind(l.first_seen)
                .bind(l.last_seen)
                .bind(now_ms)
                .bind(now_ms)
                .execute(&self.pool)
                .await;
                match inserted {
                    Ok(_) => {
                        done.created += 1;
                        break;
                    }
                    // Another writer took the id or opened the subject's lead first: look again.
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() && tries < TRIES => {
                        continue;
                    }
                    Err(e) => return Err(self.db(e)),
                }
            }
        }
        Ok(done)
    }

    /// Every stored lead, by id.
    pub async fn leads(&self) -> Result<Vec<StoredLead>, OpsError> {
        let sql = format!("SELECT {COLUMNS} FROM market_leads ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        rows.iter().map(|r| self.lead_of(r)).collect()
    }

    /// One stored lead.
    pub async fn lead(&self, id: i64) -> Result<Option<StoredLead>, OpsError> {
        let sql = format!("SELECT {COLUMNS} FROM market_leads WHERE id = $1");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        r.map(|r| self.lead_of(&r)).transpose()
    }

    /// Moves a lead to `to` if the workflow allows it from where it stands (checked in the same
    /// transaction), recording the change with its sealed note. `None` when no lead has the id.
    pub async fn set_lead_status(
        &self,
        id: i64,
        to: LeadStatus,
        actor: &str,
        note: &[u8],
        now_ms: i64,
    ) -> Result<Option<LeadMove>, OpsError> {
        let note = crate::to_hex(note);
        let step = Step {
            to: to.as_str(),
            actor,
            note: &note,
            now_ms,
        };
        let allowed = |from: &str| LeadStatus::parse(from).is_some_and(|f| f.may_become(to));
        Ok(
            match self
                .move_item(&LEADS, ItemId::Int(id), allowed, step)
                .await?
            {
                Move::Missing => None,
                Move::Moved(from) => Some(LeadMove::Moved(self.lead_status_of(&from)?)),
                Move::Refused(from) => Some(LeadMove::Refused(self.lead_status_of(&from)?)),
            },
        )
    }

    /// The status changes of a lead, oldest first.
    pub async fn lead_events(&self, id: i64) -> Result<Vec<LeadEvent>, OpsError> {
        self.item_events(&LEADS, ItemId::Int(id))
            .await?
            .into_iter()
            .map(|e| {
                Ok(LeadEvent {
                    seq: e.seq,
                    at_ms: e.at_ms,
                    actor: e.actor,
                    from: self.lead_status_of(&e.from)?,
                    to: self.lead_status_of(&e.to)?,
                    note: unhex(&e.note).ok_or_else(|| self.malformed("lead note"))?,
                })
            })
            .collect()
    }
}

/// Where leads and their status changes are kept.
const LEADS: Workflow = Workflow {
    items: "market_leads",
    events: "market_lead_events",
    item: "lead_id",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn record(subject: &str, sales: i64, last_seen: i64) -> LeadRecord {
        LeadRecord {
            subject: subject.into(),
            seller_enterprise_id: subject.trim_start_matches("seller:").into(),
            platform: String::new(),
            shop_id: String::new(),
            county: "330302".into(),
            rules: "price_rise,unknown_seller".into(),
            listings: 2,
            captures: 5,
            sales,
            first_seen: 1_000,
            last_seen,
        }
    }

    #[test]
    fn the_workflow_goes_one_step_at_a_time_or_is_dismissed() {
        use LeadStatus::*;
        for from in LeadStatus::ALL {
            for to in LeadStatus::ALL {
                let ok = matches!(
                    (from, to),
                    (New, Assigned)
                        | (Assigned, Verified)
                        | (Verified, Closed)
                        | (New | Assigned | Verified, Dismissed)
                );
                assert_eq!(from.may_become(to), ok, "{from:?} -> {to:?}");
            }
        }
        assert_eq!(LeadStatus::parse("closed"), Some(Closed));
        assert_eq!(LeadStatus::parse("Closed"), None);
    }

    #[tokio::test]
    async fn a_scan_again_updates_open_leads_and_a_closed_one_reopens_only_on_later_captures() {
        for db in testing::all().await {
            let ops = &db.ops;
            let first = [record("seller:A", 10, 2_000), record("seller:B", 20, 2_000)];
            let s = ops.sync_leads(&first, 5_000).await.unwrap();
            assert_eq!((s.created, s.updated), (2, 0));
            // Again, with new figures: updated, not duplicated.
            let s = ops
                .sync_leads(&[record("seller:A", 99, 3_000)], 6_000)
                .await
                .unwrap();
            assert_eq!((s.created, s.updated), (0, 1));
            let all = ops.leads().await.unwrap();
            assert_eq!(all.len(), 2);
            let a = all.iter().find(|l| l.record.subject == "seller:A").unwrap();
            assert_eq!(
                (a.record.sales, a.status, a.created_at),
                (99, LeadStatus::New, 5_000)
            );

            // Through the workflow, with a sealed note.
            let id = a.id;
            let note = [1u8, 2, 0xfe];
            for to in [
                LeadStatus::Assigned,
                LeadStatus::Verified,
                LeadStatus::Closed,
            ] {
                let m = ops
                    .set_lead_status(id, to, "officer", &note, 7_000)
                    .await
                    .unwrap();
                assert!(matches!(m, Some(LeadMove::Moved(_))), "{to:?}");
            }
            // Not back, not twice, not dismissed once closed.
            for to in [LeadStatus::New, LeadStatus::Closed, LeadStatus::Dismissed] {
                let m = ops
                    .set_lead_status(id, to, "officer", &[], 8_000)
                    .await
                    .unwrap();
                assert_eq!(m, Some(LeadMove::Refused(LeadStatus::Closed)), "{to:?}");
            }
            assert_eq!(
                ops.set_lead_status(9_999, LeadStatus::Assigned, "o", &[], 8_000)
                    .await
                    .unwrap(),
                None
            );
            let stored = ops.lead(id).await.unwrap().unwrap();
            assert_eq!(
                (
                    stored.status,
                    stored.updated_by.as_str(),
                    stored.note.as_slice()
                ),
                (LeadStatus::Closed, "officer", &note[..])
            );
            let events = ops.lead_events(id).await.unwrap();
            let steps: Vec<_> = events.iter().map(|e| (e.seq, e.from, e.to)).collect();
            assert_eq!(
                steps,
                [
                    (1, LeadStatus::New, LeadStatus::Assigned),
                    (2, LeadStatus::Assigned, LeadStatus::Verified),
                    (3, LeadStatus::Verified, LeadStatus::Closed)
                ]
            );
            assert!(events.iter().all(|e| e.note == note));

            // The same captures again: the closed lead stays closed, no new one.
            let s = ops
                .sync_leads(&[record("seller:A", 99, 3_000)], 9_000)
                .await
                .unwrap();
            assert_eq!((s.created, s.updated, s.unchanged), (0, 0, 1));
            // Flagged after it: a new lead.
            let s = ops
                .sync_leads(&[record("seller:A", 120, 4_000)], 9_000)
                .await
                .unwrap();
            assert_eq!(s.created, 1);
            let all = ops.leads().await.unwrap();
            assert_eq!(all.len(), 3);
            assert_eq!(
                all.iter()
                    .filter(|l| l.record.subject == "seller:A" && l.status.is_open())
                    .count(),
                1
            );
            assert!(ops.lead(-1).await.unwrap().is_none());
        }
    }
}
