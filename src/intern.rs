//! Interning: the dictionaries that turn a job's strings into small ids, the packed field
//! order, and one job in interned form ([`Packed`]). Shared by the count cube
//! ([`JobTable`](crate::JobTable)) and [`Batch`](crate::Batch), which interns on its own.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::error::RecordError;
use crate::record::{AccountId, Fields};
use crate::schema::{scan_code_of, Operation, RecordField};

/// An interner: each distinct string gets a dense id in order of first appearance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dictionary {
    names: Vec<Box<str>>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

/// Interned account ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct Accounts {
    pub(crate) ids: Vec<AccountId>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

/// The dictionaries of every interned field.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dims {
    pub(crate) accounts: Accounts,
    pub(crate) regions: Dictionary,
    pub(crate) resource_types: Dictionary,
    pub(crate) categories: Dictionary,
    /// Bit `c` set when some job has state code `c`.
    pub(crate) states_present: u16,
    /// Bit `x` set when some job has the packed scan code `x` (`schema::scan_code`).
    pub(crate) extras_present: u16,
}

/// Fields of a packed word, in bit order from the least significant.
pub(crate) const REGION: usize = 0;
pub(crate) const ACCOUNT: usize = 1;
pub(crate) const STATE: usize = 2;
pub(crate) const RESOURCE_TYPE: usize = 3;
/// 0 = absent, else 1 + id in `categories`.
pub(crate) const CATEGORY: usize = 4;
/// The packed code of the scan-only dimensions (`schema::scan_code`; 0 = absent).
pub(crate) const EXTRA: usize = 5;
/// Number of packed fields.
pub(crate) const PACKED: usize = 6;

/// Most distinct values one field of one table may hold (keeps every word within 128 bits).
pub(crate) const MAX_SYMBOLS: u32 = 1 << 28;

/// One job in interned form: its day and the ids of its fields.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub(crate) struct Packed {
    pub(crate) day: i64,
    pub(crate) ids: [u32; PACKED],
}

impl Dictionary {
    /// The id of `name`, interning it if new.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        let hash = self.hasher.hash_one(name);
        let names = &self.names;
        if let Some(&id) = self.index.find(hash, |&id| &*names[id as usize] == name) {
            return id;
        }
        let id = len_u32(self.names.len());
        self.names.push(name.into());
        let (names, hasher) = (&self.names, &self.hasher);
        self.index
            .insert_unique(hash, id, |&i| hasher.hash_one(&*names[i as usize]));
        id
    }

    /// The id of `name`, if interned.
    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.index
            .find(hash, |&id| &*self.names[id as usize] == name)
            .copied()
    }

    /// The name of `id`; ids come from this dictionary.
    pub(crate) fn name(&self, id: u32) -> &str {
        let name = self.names.get(id as usize);
        debug_assert!(name.is_some(), "id {id} not interned");
        name.map_or("", |n| n)
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Every name, by id.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }
}

impl Accounts {
    pub(crate) fn intern(&mut self, account: AccountId) -> u32 {
        let hash = self.hasher.hash_one(account.as_u64());
        let ids = &self.ids;
        if let Some(&id) = self.index.find(hash, |&id| ids[id as usize] == account) {
            return id;
        }
        let id = len_u32(self.ids.len());
        self.ids.push(account);
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.index
            .insert_unique(hash, id, |&i| hasher.hash_one(ids[i as usize].as_u64()));
        id
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The account of `id`; ids come from this interner.
    pub(crate) fn get(&self, id: u32) -> Option<AccountId> {
        self.ids.get(id as usize).copied()
    }
}

impl Dims {
    /// Checks `f` against `op` and interns it.
    ///
    /// # Errors
    /// [`RecordError::WrongKind`] for a state `op` does not have; [`RecordError::Invalid`]
    /// when a field already holds 2^28 distinct values.
    pub(crate) fn pack(&mut self, op: Operation, f: &Fields<'_>) -> Result<Packed, RecordError> {
        if !op.has_state(f.state) {
            return Err(RecordError::wrong_kind(
                RecordField::State,
                f.state.as_str(),
                op,
            ));
        }
        let too_many = |field: RecordField, value: &str| {
            RecordError::invalid(
                field,
                value,
                "at most 2^28 distinct values of a field per table",
            )
        };
        let region = self.regions.intern(f.region);
        if region >= MAX_SYMBOLS {
            return Err(too_many(RecordField::Region, f.region));
        }
        let account = self.accounts.intern(f.account);
        if account >= MAX_SYMBOLS {
            return Err(too_many(RecordField::AccountId, &f.account.to_string()));
        }
        let resource_type = self.resource_types.intern(f.resource_type);
        if resource_type >= MAX_SYMBOLS {
            return Err(too_many(RecordField::ResourceType, f.resource_type));
        }
        let category = match f.category {
            Some(c) => {
                let id = self.categories.intern(c);
                if id >= MAX_SYMBOLS {
                    return Err(too_many(RecordField::MessageCategory, c));
                }
                id + 1
            }
            None => 0,
        };
        let extra = scan_code_of(f.scanner, f.result);
        let state = f.state.code();
        self.states_present |= 1 << (state & 15);
        self.extras_present |= 1 << (extra & 15);
        Ok(Packed {
            day: f.creation.day(),
            ids: [
                region,
                account,
                u32::from(state),
                resource_type,
                category,
                u32::from(extra),
            ],
        })
    }

    /// Maps ids of `other` to ids of `self`, interning what is new: one map per packed
    /// field (state and extra codes map to themselves).
    pub(crate) fn absorb(&mut self, other: &Self) -> [Vec<u32>; PACKED] {
        let mut maps: [Vec<u32>; PACKED] = Default::default();
        maps[REGION] = other
            .regions
            .names()
            .map(|n| self.regions.intern(n))
            .collect();
        maps[ACCOUNT] = other
            .accounts
            .ids
            .iter()
            .map(|&a| self.accounts.intern(a))
            .collect();
        maps[RESOURCE_TYPE] = other
            .resource_types
            .names()
            .map(|n| self.resource_types.intern(n))
            .collect();
        maps[CATEGORY] = std::iter::once(0)
            .chain(
                other
                    .categories
                    .names()
                    .map(|n| self.categories.intern(n) + 1),
            )
            .collect();
        self.states_present |= other.states_present;
        self.extras_present |= other.extras_present;
        maps
    }

    /// The most distinct values any interned field holds.
    pub(crate) fn widest(&self) -> usize {
        self.regions
            .len()
            .max(self.accounts.len())
            .max(self.resource_types.len())
            .max(self.categories.len() + 1)
    }
}

/// Translates ids through `maps` (ids of a batch's dictionaries to a table's).
pub(crate) fn remap(ids: [u32; PACKED], maps: &[Vec<u32>; PACKED]) -> [u32; PACKED] {
    std::array::from_fn(|f| match f {
        STATE | EXTRA => ids[f],
        _ => {
            let mapped = maps[f].get(ids[f] as usize).copied();
            debug_assert!(
                mapped.is_some(),
                "id {} of field {f} has no mapping",
                ids[f]
            );
            mapped.unwrap_or(u32::MAX)
        }
    })
}

/// A length as a `u32` id. Tables hold fewer than 2^32 cells and dictionaries fewer than
/// 2^28 names (checked before anything is interned), so this never saturates.
pub(crate) fn len_u32(n: usize) -> u32 {
    debug_assert!(u32::try_from(n).is_ok(), "{n} does not fit an id");
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_interns_once() {
        let mut d = Dictionary::default();
        assert_eq!(d.intern("a"), 0);
        assert_eq!(d.intern("b"), 1);
        assert_eq!(d.intern("a"), 0);
        assert_eq!(d.find("b"), Some(1));
        assert_eq!(d.find("c"), None);
        assert_eq!(d.name(1), "b");
    }
}
