//! The one place identities are shown: a [`View`] turns a pseudonym into the ID number, name
//! and phone the caller's role may see for that person (contract §5), and notes whom it showed
//! in the request's [`Shown`], which [`crate::Engine::ask`] writes into the audit entry.

use std::collections::HashMap;
use std::sync::Arc;

use privacy::Disclosure;
use serde::Serialize;
use vault::Keys;

use crate::ask::Shown;
use crate::directory::Directory;
use crate::{Account, EngineError, Snapshot};

/// A person as an answer shows them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonView {
    pub person_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// `full`, `contact` (name and phone in clear) or `masked`.
    pub disclosure: &'static str,
}

/// Shows identities to one caller.
pub struct View<'a> {
    account: &'a Account,
    keys: &'a Keys,
    snap: &'a Snapshot,
    shown: &'a Shown,
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "View({})", self.account.name)
    }
}

fn disclosure_name(d: Disclosure) -> &'static str {
    match d {
        Disclosure::Full => "full",
        Disclosure::Contact => "contact",
        Disclosure::Masked => "masked",
    }
}

impl<'a> View<'a> {
    pub(crate) fn new(
        snap: &'a Snapshot,
        keys: &'a Keys,
        account: &'a Account,
        shown: &'a Shown,
    ) -> Result<View<'a>, EngineError> {
        if !account.scope.is_everyone() {
            // Scoped answers need the directory; build it now so failures surface here.
            snap.directory()?;
        }
        Ok(View {
            account,
            keys,
            snap,
            shown,
        })
    }

    /// The directory of persons (built on first use).
    pub fn directory(&self) -> Result<Arc<Directory>, EngineError> {
        self.snap.directory()
    }

    /// The caller's scope, for messages.
    pub fn scope_description(&self) -> String {
        self.account.scope.describe()
    }

    /// Whether the person lives within the caller's scope. An enterprise account reaches no
    /// one by where they live (its scope holds its enterprise, not a community): only the
    /// persons its answers decide on ([`View::id_where`]).
    pub fn in_scope(&self, person: i64) -> bool {
        if self.account.role == privacy::Role::Enterprise {
            return false;
        }
        // A resident reaches their own person only; a resident account naming no one (the
        // command line's `--as-role resident`) reaches no one.
        if self.account.role == privacy::Role::Resident || self.account.scope.person.is_some() {
            return self.account.scope.person == Some(person);
        }
        if self.account.scope.is_everyone() {
            return true;
        }
        match self.snap.directory() {
            Ok(d) => self.account.scope.contains(d.residence(person)),
            Err(_) => false,
        }
    }

    /// How much of this person the caller may see.
    pub fn disclosure(&self, person: i64) -> Disclosure {
        privacy::disclosure(self.account.role, self.in_scope(person))
    }

    /// The ID number as the caller may see it (clear for full disclosure, else masked), and
    /// notes that the answer showed this person.
    pub fn id(&self, person: i64) -> String {
        self.shown.note(person);
        self.id_at(person, self.disclosure(person))
    }

    /// [`View::id`] with the scope decided by the caller: an enterprise sees in full the ids
    /// it named itself (its own applications) and those who consented to it, masked otherwise.
    pub fn id_where(&self, person: i64, in_scope: bool) -> String {
        self.shown.note(person);
        self.id_at(person, privacy::disclosure(self.account.role, in_scope))
    }

    fn id_at(&self, person: i64, d: Disclosure) -> String {
        match self.keys.pseudonyms.reveal(person) {
            None => format!("#{person}"),
            Some(id) if d == Disclosure::Full => id.to_string(),
            Some(id) => privacy::mask_person_id(id),
        }
    }

    /// A case as a health code's reason names it: always masked (contract §5: a code is shown
    /// to the person and to whoever checks it), but still noted as shown.
    pub fn masked_id(&self, person: i64) -> String {
        self.shown.note(person);
        self.keys
            .pseudonyms
            .reveal(person)
            .map_or_else(|| format!("#{person}"), privacy::mask_person_id)
    }

    /// The persons with names and phones, each as the caller may see them.
    pub fn persons(&self, persons: &[i64]) -> Result<Vec<PersonView>, EngineError> {
        self.persons_where(persons, &|p| self.in_scope(p))
    }

    /// [`View::persons`] with the scope decided by the caller: for answers already narrowed to
    /// the caller's area by something other than home (where a returnee stays now).
    pub fn persons_where(
        &self,
        persons: &[i64],
        in_scope: &dyn Fn(i64) -> bool,
    ) -> Result<Vec<PersonView>, EngineError> {
        let identities: HashMap<i64, crate::Identity> =
            self.directory()?.identities(self.keys, persons)?;
        self.shown.note_all(persons.iter().copied());
        Ok(persons
            .iter()
            .map(|&p| {
                let d = privacy::disclosure(self.account.role, in_scope(p));
                let ident = identities.get(&p).cloned().unwrap_or_default();
                let (name, phone) = match d {
                    Disclosure::Full | Disclosure::Contact => (ident.name, ident.phone),
                    Disclosure::Masked => (
                        ident.name.as_deref().map(privacy::mask_name),
                        ident.phone.as_deref().map(privacy::mask_phone),
                    ),
                };
                PersonView {
                    person_id: self.id_at(p, d),
                    name,
                    phone,
                    disclosure: disclosure_name(d),
                }
            })
            .collect())
    }

    /// Everyone shown so far in this request, sorted.
    pub fn shown(&self) -> Vec<i64> {
        self.shown.sorted()
    }
}
