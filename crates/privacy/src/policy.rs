//! The access policy: which role may take which action for which purpose, and how much of a
//! person's identity the answer may show. One table, read by the engine and printed in the docs.

use serde::Serialize;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the snake_case name; `None` for anything else.
            pub fn parse(s: &str) -> Option<$name> {
                match s.trim() {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The accepted names, comma-separated, for error messages.
            pub fn names() -> String {
                $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What an account is for. A role bounds the actions; the purpose named with each request
    /// must be one the role may pursue for that action.
    Role {
        /// Runs the system: users, data loading, the audit log; sees everything.
        Admin = "admin",
        /// Traces cases and contacts; full identities of people within their region.
        Epidemiologist = "epidemiologist",
        /// Serves one community: its residents' names, phones and codes; no travel detail.
        CommunityWorker = "community_worker",
        /// Pseudonymised aggregates and read-only SQL; never an identity.
        Analyst = "analyst",
        /// Verifies presented codes and nothing else.
        Checkpoint = "checkpoint",
        /// An enterprise bringing its staff back (contract §8), scoped to its own
        /// `enterprise_id`: uploads its own applications, sees its own employees' verdicts and
        /// office dates (never the reasons) and the seekers matched to its openings, masked
        /// until each consents.
        Enterprise = "enterprise",
        /// A resident signed in with a one-time code (contract §10): their own data and
        /// nothing else — their code, their reports, their corrections, who looked at them.
        Resident = "resident",
        /// Anyone without an account: the co-travel self-check.
        Public = "public",
        /// Another deployment (a home province) asking, authenticated by its signed request
        /// (issue 19): never a token's role; it gets colors, rule groups and validity only.
        Peer = "peer",
        /// A market supervision officer (contract §9, issue 20), scoped to a region like an
        /// epidemiologist: the flagged listings and leads routed there and their workflow;
        /// sellers are enterprises, so nothing of a person.
        MarketSupervisor = "market_supervisor",
    }
}

vocabulary! {
    /// Why a request is made (`X-Purpose`). Recorded with every audit entry.
    Purpose {
        /// Investigating cases and their contacts.
        OutbreakResponse = "outbreak_response",
        /// Visiting, registering and supporting a community's residents.
        CommunityService = "community_service",
        /// Looking up, issuing and revoking health codes.
        HealthCode = "health_code",
        /// Checking a code someone presents.
        Verification = "verification",
        /// Statistics over pseudonymised data.
        Analysis = "analysis",
        /// Loading and removing records.
        DataManagement = "data_management",
        /// Reviewing who accessed what.
        Oversight = "oversight",
        /// Managing accounts.
        Administration = "administration",
        /// A member of the public checking their own trip.
        SelfCheck = "self_check",
        /// Bringing people back to work (contract §8): applications and their decisions, the
        /// whitelist, job matching and seekers' consent.
        WorkResumption = "work_resumption",
        /// Registering arriving workers: their home province's attestation of their code.
        ArrivalRegistration = "arrival_registration",
        /// Finding and working leads on fake, unregistered and overpriced protective supplies
        /// sold online (contract §9).
        MarketSupervision = "market_supervision",
    }
}

vocabulary! {
    /// Everything the API and the CLI can be asked to do with the data.
    Action {
        /// Upload a file of one kind.
        Ingest = "ingest",
        /// A case's close contacts (JSON or CSV).
        Trace = "trace",
        /// One person's health code.
        PersonCode = "person_code",
        /// The health codes of a community's residents.
        CommunityCodes = "community_codes",
        /// Sign a person's code as a QR payload.
        IssueCode = "issue_code",
        /// Revoke a person's signed codes.
        RevokeCode = "revoke_code",
        /// Check a presented payload.
        VerifyCode = "verify_code",
        /// The public co-travel self-check.
        Cotravel = "cotravel",
        /// The people who arrived from a region, with where they stay.
        Returnees = "returnees",
        /// Counts of returnees per county and community.
        ReturneesSummary = "returnees_summary",
        /// Daily arrivals per region (counts, no identities).
        Inflow = "inflow",
        /// A day's community alerts, with the persons their tasks are about.
        Alerts = "alerts",
        /// Acknowledge or close an alert.
        UpdateAlert = "update_alert",
        /// Published figures: risk areas, movement shares, case counts (no persons).
        OpenData = "open_data",
        /// A case's public trail: rides and venues from the day before onset, no identity.
        CaseTrail = "case_trail",
        /// The power index of resumption: per region, industry and day (counts and shares of
        /// enterprises, no persons).
        ResumeIndex = "resume_index",
        /// Per-employee return decisions on applications (§8.1): verdicts, office dates and,
        /// for the command centre, reasons.
        ResumeDecide = "resume_decide",
        /// The whitelist plan (§8.2): enterprises by tier and rank with counts, no persons.
        ResumePlan = "resume_plan",
        /// Job matching (§8.4): openings filled with seekers.
        ResumeMatch = "resume_match",
        /// Record that a job seeker consents to an enterprise seeing who they are, or withdraw it.
        ResumeConsent = "resume_consent",
        /// A resident's own report: a self-report or an arrival registration (§10).
        ResidentReport = "resident_report",
        /// Who read one person's data: the resident's own access log (§10).
        AccessLog = "access_log",
        /// Ask for a correction of a rule behind a code (a resident, or a community worker at a
        /// service desk for someone without a phone).
        FileCorrection = "file_correction",
        /// Read corrections: a resident their own; staff the queue of their region with the
        /// evidence behind each disputed rule.
        ReadCorrections = "read_corrections",
        /// Accept (an override with a reason and an end date) or reject a correction.
        DecideCorrection = "decide_correction",
        /// The public nearby-cases search: cases' public trail points near a place, no identity.
        Nearby = "nearby",
        /// Health attestations between deployments (issue 19): a peer asking for its arrivals'
        /// colors (answered with color, rule groups and validity only), or this deployment
        /// asking a home province and recording what came back.
        Attest = "attest",
        /// Market supervision (contract §9): flagged listing captures, the leads they make with
        /// their workflow state, rule diffs (enterprises and shops, no persons).
        Market = "market",
        /// Move a market lead through its workflow (assign, verify, close, dismiss), with a note.
        UpdateLead = "update_lead",
        /// Read-only SQL over the pseudonymised tables.
        Sql = "sql",
        /// Read the audit log.
        AuditRead = "audit_read",
        /// Create, change and disable accounts and tokens.
        ManageUsers = "manage_users",
        /// Delete personal records past their retention.
        Retention = "retention",
        /// Sign in with a password for a session token. Not in the policy table (anyone may
        /// try, with no purpose); every attempt is audited.
        Login = "login",
        /// A resident asks for a one-time code or signs in with one (§10). Not in the policy
        /// table, like a login; every attempt is audited.
        ResidentSignIn = "resident_sign_in",
        /// End a session: its token is revoked. Audited like a login.
        Logout = "logout",
    }
}

use Action as A;
use Purpose as P;
use Role as R;

/// The policy table: for each action, the purposes each role may pursue with it. A role not
/// listed for an action may not take it at all.
pub fn purposes(role: Role, action: Action) -> &'static [Purpose] {
    match (action, role) {
        (A::Ingest, R::Admin) => &[P::DataManagement],
        // Its own applications only: the engine holds the kind and every row's enterprise_id.
        (A::Ingest, R::Enterprise) => &[P::WorkResumption],
        (A::Trace, R::Admin | R::Epidemiologist) => &[P::OutbreakResponse],
        (A::PersonCode, R::Admin | R::Epidemiologist) => &[P::OutbreakResponse, P::HealthCode],
        (A::PersonCode, R::CommunityWorker) => &[P::CommunityService, P::HealthCode],
        (A::CommunityCodes, R::Admin) => &[P::OutbreakResponse, P::CommunityService],
        (A::CommunityCodes, R::Epidemiologist) => &[P::OutbreakResponse],
        (A::CommunityCodes, R::CommunityWorker) => &[P::CommunityService],
        (A::IssueCode, R::Admin | R::Epidemiologist | R::CommunityWorker) => &[P::HealthCode],
        (A::RevokeCode, R::Admin | R::Epidemiologist) => &[P::HealthCode],
        (A::VerifyCode, R::Admin | R::Epidemiologist | R::CommunityWorker | R::Checkpoint) => {
            &[P::Verification]
        }
        (A::Cotravel | A::Nearby, _) => &[P::SelfCheck],
        // A resident's own data only: the engine holds every such answer to the account's
        // person.
        (
            A::PersonCode
            | A::IssueCode
            | A::ResidentReport
            | A::AccessLog
            | A::FileCorrection
            | A::ReadCorrections,
            R::Resident,
        ) => &[P::SelfCheck],
        (A::FileCorrection | A::ReadCorrections, R::CommunityWorker) => &[P::CommunityService],
        (A::FileCorrection, R::Admin) => &[P::HealthCode],
        (A::ReadCorrections | A::DecideCorrection, R::Admin | R::Epidemiologist) => {
            &[P::HealthCode, P::OutbreakResponse]
        }
        (A::Returnees, R::Admin) => &[P::OutbreakResponse, P::CommunityService],
        (A::Returnees, R::Epidemiologist) => &[P::OutbreakResponse],
        (A::Returnees, R::CommunityWorker) => &[P::CommunityService],
        (A::ReturneesSummary, R::Admin | R::Epidemiologist) => &[P::OutbreakResponse, P::Analysis],
        (A::ReturneesSummary, R::CommunityWorker) => &[P::CommunityService],
        (A::ReturneesSummary, R::Analyst) => &[P::Analysis],
        (A::Inflow, R::Admin | R::Epidemiologist) => &[P::OutbreakResponse, P::Analysis],
        (A::Inflow, R::CommunityWorker) => &[P::CommunityService],
        (A::Inflow, R::Analyst) => &[P::Analysis],
        (A::Alerts | A::UpdateAlert, R::Admin | R::Epidemiologist) => {
            &[P::OutbreakResponse, P::CommunityService]
        }
        (A::Alerts | A::UpdateAlert, R::CommunityWorker) => &[P::CommunityService],
        (A::OpenData, R::Admin | R::Epidemiologist | R::CommunityWorker | R::Analyst) => {
            &[P::Analysis, P::OutbreakResponse, P::CommunityService]
        }
        (A::CaseTrail, R::Admin | R::Epidemiologist) => &[P::OutbreakResponse],
        (A::CaseTrail, R::CommunityWorker) => &[P::CommunityService],
        (A::ResumeIndex, R::Admin | R::Epidemiologist | R::Analyst) => &[P::Analysis],
        (A::ResumeDecide, R::Admin | R::Epidemiologist) => &[P::WorkResumption, P::HealthCode],
        (A::ResumeDecide | A::ResumeMatch, R::Enterprise) => &[P::WorkResumption],
        (A::ResumePlan, R::Admin | R::Epidemiologist | R::Analyst) => {
            &[P::WorkResumption, P::Analysis]
        }
        (A::ResumeMatch | A::ResumeConsent, R::Admin) => &[P::WorkResumption],
        (A::Attest, R::Peer | R::Admin) => &[P::ArrivalRegistration, P::HealthCode],
        (A::Market | A::UpdateLead, R::Admin | R::MarketSupervisor) => &[P::MarketSupervision],
        (A::Sql, R::Admin | R::Epidemiologist | R::Analyst) => &[P::Analysis],
        (A::AuditRead, R::Admin) => &[P::Oversight],
        (A::ManageUsers, R::Admin) => &[P::Administration],
        (A::Retention, R::Admin) => &[P::DataManagement],
        _ => &[],
    }
}

/// Why a request is refused (the HTTP 403 body and the audit entry's outcome).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the role {role} does not allow {action}")]
    Role { role: Role, action: Action },
    #[error("purpose {purpose} is not allowed for {action} as {role} (allowed: {allowed})")]
    Purpose {
        role: Role,
        action: Action,
        purpose: Purpose,
        allowed: String,
    },
    #[error("{what} is outside your {scope}")]
    OutOfScope { what: String, scope: String },
}

/// Checks the policy table; `Ok` when the role may take the action for the purpose.
pub fn authorize(role: Role, action: Action, purpose: Purpose) -> Result<(), Denied> {
    let allowed = purposes(role, action);
    if allowed.is_empty() {
        return Err(Denied::Role { role, action });
    }
    if !allowed.contains(&purpose) {
        return Err(Denied::Purpose {
            role,
            action,
            purpose,
            allowed: allowed
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(())
}

/// Whether person-level answers may show how people travelled — the mode, service, seat or
/// car, and which case they met — to `role`. Community workers need who to visit and where,
/// not how someone came (a returnee's origin and day are enough to register them), so their
/// codes, returnee lists, watch lists and alerts leave it out. Analysts, checkpoints and the
/// public get no person-level answers at all.
pub fn sees_travel(role: Role) -> bool {
    matches!(role, R::Admin | R::Epidemiologist)
}

/// How much of one person's identity an answer may show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Disclosure {
    /// Masked ID number, masked name and phone (contract §5's default).
    Masked,
    /// Name and phone in clear, ID number masked: a community worker's own residents.
    Contact,
    /// Everything in clear.
    Full,
}

/// The disclosure of a person to `role`: `in_scope` says whether the person lives within the
/// caller's region (or community, for community workers) — for an enterprise, whether it named
/// the person itself (an employee on its own application) or the person consented to it (a
/// matched job seeker); everyone else it sees masked. Analysts, checkpoints and the public
/// never see identities, so they get [`Disclosure::Masked`] — the engine gives them none at all.
pub fn disclosure(role: Role, in_scope: bool) -> Disclosure {
    match (role, in_scope) {
        (R::Admin, _) => Disclosure::Full,
        (R::Epidemiologist | R::Enterprise, true) => Disclosure::Full,
        (R::CommunityWorker, true) => Disclosure::Contact,
        // A resident's own data ([`crate::Scope::person`]).
        (R::Resident, true) => Disclosure::Full,
        _ => Disclosure::Masked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(*p));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn the_table_keeps_roles_to_their_jobs() {
        use Purpose::*;
        assert!(authorize(Role::Epidemiologist, Action::Trace, OutbreakResponse).is_ok());
        assert!(matches!(
            authorize(Role::Epidemiologist, Action::Trace, Analysis),
            Err(Denied::Purpose { .. })
        ));
        assert!(matches!(
            authorize(Role::Analyst, Action::Trace, Analysis),
            Err(Denied::Role { .. })
        ));
        // A checkpoint verifies codes and does nothing else.
        for a in Action::ALL {
            let ok = !purposes(Role::Checkpoint, *a).is_empty();
            assert_eq!(
                ok,
                matches!(a, Action::VerifyCode | Action::Cotravel | Action::Nearby),
                "{a}"
            );
        }
        // Analysts never reach a person-level action.
        for a in [
            Action::Trace,
            Action::PersonCode,
            Action::CommunityCodes,
            Action::IssueCode,
            Action::Returnees,
            Action::AuditRead,
        ] {
            assert!(purposes(Role::Analyst, a).is_empty(), "{a}");
        }
        // An enterprise reaches work resumption and nothing personal besides.
        for a in Action::ALL {
            let ok = !purposes(Role::Enterprise, *a).is_empty();
            assert_eq!(
                ok,
                matches!(
                    a,
                    Action::Ingest
                        | Action::ResumeDecide
                        | Action::ResumeMatch
                        | Action::Cotravel
                        | Action::Nearby
                ),
                "{a}"
            );
        }
        assert!(!sees_travel(Role::Enterprise));
        // Everyone may self-check, for that purpose only.
        for r in Role::ALL {
            assert_eq!(purposes(*r, Action::Cotravel), &[SelfCheck]);
            assert_eq!(purposes(*r, Action::Nearby), &[SelfCheck]);
        }
        // A resident reaches their own data, for self_check only, and nothing of anyone's
        // else: no trace, no lists, no SQL, no log but their own.
        for a in Action::ALL {
            let p = purposes(Role::Resident, *a);
            assert!(p.is_empty() || p == [SelfCheck], "{a}");
            assert_eq!(
                !p.is_empty(),
                matches!(
                    a,
                    Action::PersonCode
                        | Action::IssueCode
                        | Action::ResidentReport
                        | Action::AccessLog
                        | Action::FileCorrection
                        | Action::ReadCorrections
                        | Action::Cotravel
                        | Action::Nearby
                ),
                "{a}"
            );
        }
        assert!(!sees_travel(Role::Resident));
        // A market supervisor reaches the market and nothing else but the public self-checks.
        for a in Action::ALL {
            let p = purposes(Role::MarketSupervisor, *a);
            let market = matches!(a, Action::Market | Action::UpdateLead);
            assert_eq!(
                !p.is_empty(),
                market || matches!(a, Action::Cotravel | Action::Nearby),
                "{a}"
            );
            if market {
                assert_eq!(p, [MarketSupervision]);
            }
        }
        assert!(!sees_travel(Role::MarketSupervisor));
        assert_eq!(disclosure(Role::MarketSupervisor, true), Disclosure::Masked);
    }

    #[test]
    fn travel_detail_is_for_those_who_trace() {
        assert!(sees_travel(Role::Admin) && sees_travel(Role::Epidemiologist));
        for r in [
            Role::CommunityWorker,
            Role::Analyst,
            Role::Checkpoint,
            Role::Public,
        ] {
            assert!(!sees_travel(r), "{r}");
        }
        // Signing in and out is not an access to data: no role has a purpose for it.
        for r in Role::ALL {
            assert!(purposes(*r, Action::Login).is_empty());
            assert!(purposes(*r, Action::Logout).is_empty());
        }
    }

    #[test]
    fn disclosure_follows_role_and_scope() {
        assert_eq!(disclosure(Role::Admin, false), Disclosure::Full);
        assert_eq!(disclosure(Role::Epidemiologist, true), Disclosure::Full);
        assert_eq!(disclosure(Role::Epidemiologist, false), Disclosure::Masked);
        assert_eq!(disclosure(Role::CommunityWorker, true), Disclosure::Contact);
        assert_eq!(disclosure(Role::CommunityWorker, false), Disclosure::Masked);
        assert_eq!(disclosure(Role::Analyst, true), Disclosure::Masked);
        assert_eq!(disclosure(Role::Enterprise, true), Disclosure::Full);
        assert_eq!(disclosure(Role::Enterprise, false), Disclosure::Masked);
        assert_eq!(disclosure(Role::Resident, true), Disclosure::Full);
        assert_eq!(disclosure(Role::Resident, false), Disclosure::Masked);
    }
}
