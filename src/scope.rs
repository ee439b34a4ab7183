//! Who sees what (SPEC §4): the caller, its organization and its role in it.
//!
//! The engine takes the caller as input and never reads credentials itself. An
//! [`Organization`] is shared, not copied: cloning it (or a [`Caller`] holding it) is a
//! reference-count increment, so a server can place every request's caller in an organization
//! of 100 000 accounts without copying them. Membership is a hash-set lookup. No hash-set
//! order leaks: [`AccountSet`] lists its accounts sorted, and prints them sorted.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use hashbrown::HashSet;

use crate::record::{AccountId, Region};

/// An AWS Organizations organization: its management account, its delegated administrators
/// for AWS Backup, and its accounts. The management account and the delegated administrators
/// are members whether or not [`Organization::accounts`] names them.
///
/// Cheap to clone: clones share the account sets (`Arc`). The `with_*` builders copy the sets
/// only when they are shared (copy on write).
///
/// Two organizations are equal when they have the same management account, delegated
/// administrators and accounts; clones of one organization compare in O(1).
///
/// ```
/// use backup_summaries::{AccountId, Organization};
/// let management: AccountId = "111111111111".parse()?;
/// let org = Organization::new(management).with_accounts([
///     "333333333333".parse()?,
///     "222222222222".parse()?,
/// ]);
/// let shared = org.clone(); // no copy of the accounts
/// assert_eq!(shared, org);
/// assert!(shared.contains("222222222222".parse()?));
/// assert!(shared.contains(management)); // a member even though `accounts` does not name it
/// let listed: Vec<String> = org.accounts().to_sorted_vec().iter().map(|a| a.to_string()).collect();
/// assert_eq!(listed, ["222222222222", "333333333333"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Organization {
    members: Arc<Members>,
}

/// A set of accounts with O(1) membership. Its order is not observable: [`AccountSet::to_sorted_vec`]
/// and `Debug` list the accounts in ascending order.
#[derive(Clone, Default, Eq, PartialEq)]
pub struct AccountSet(HashSet<AccountId>);

/// What an [`Organization`] shares between its clones.
#[derive(Clone, Debug, Eq, PartialEq)]
struct Members {
    management: AccountId,
    delegated_administrators: AccountSet,
    accounts: AccountSet,
}

/// The caller's role, derived from its account and organization (SPEC §4).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Role {
    /// No organization, or an account outside it: sees only its own jobs.
    Standalone,
    /// A member account: sees only its own jobs.
    Member,
    /// The management account: sees the whole organization.
    Management,
    /// A delegated administrator: sees the whole organization.
    DelegatedAdministrator,
}

/// The account and region a request is made as, with the organization it belongs to.
///
/// ```
/// use backup_summaries::{AccountId, Caller, Organization, Role};
/// let admin: AccountId = "111111111111".parse()?;
/// let member: AccountId = "222222222222".parse()?;
/// let org = Organization::new(admin).with_accounts([member]);
/// let caller = Caller::new(admin, "us-east-1".parse()?).with_organization(org);
/// assert_eq!(caller.role(), Role::Management);
/// assert!(caller.can_see(member));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Caller {
    account: AccountId,
    region: Region,
    organization: Option<Organization>,
}

impl Organization {
    /// An organization with this management account and no other account yet.
    #[must_use]
    pub fn new(management: AccountId) -> Self {
        Self {
            members: Arc::new(Members {
                management,
                delegated_administrators: AccountSet::default(),
                accounts: AccountSet::default(),
            }),
        }
    }

    /// Adds member accounts.
    #[must_use]
    pub fn with_accounts(mut self, accounts: impl IntoIterator<Item = AccountId>) -> Self {
        Arc::make_mut(&mut self.members).accounts.0.extend(accounts);
        self
    }

    /// Adds delegated administrators (they are members too).
    #[must_use]
    pub fn with_delegated_administrators(
        mut self,
        admins: impl IntoIterator<Item = AccountId>,
    ) -> Self {
        Arc::make_mut(&mut self.members)
            .delegated_administrators
            .0
            .extend(admins);
        self
    }

    /// The management account.
    #[must_use]
    pub fn management(&self) -> AccountId {
        self.members.management
    }

    /// The delegated administrators.
    #[must_use]
    pub fn delegated_administrators(&self) -> &AccountSet {
        &self.members.delegated_administrators
    }

    /// The accounts named as members (see [`Organization::contains`] for the full set).
    #[must_use]
    pub fn accounts(&self) -> &AccountSet {
        &self.members.accounts
    }

    /// Whether `account` belongs to the organization: O(1).
    #[must_use]
    pub fn contains(&self, account: AccountId) -> bool {
        let m = &*self.members;
        account == m.management
            || m.accounts.contains(&account)
            || m.delegated_administrators.contains(&account)
    }
}

impl PartialEq for Organization {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.members, &other.members) || self.members == other.members
    }
}

impl Eq for Organization {}

impl Hash for Organization {
    /// Hashes the management account and the sizes of the sets: O(1), and equal
    /// organizations (same accounts) hash alike.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let m = &*self.members;
        m.management.hash(state);
        m.delegated_administrators.len().hash(state);
        m.accounts.len().hash(state);
    }
}

impl fmt::Debug for Organization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &*self.members;
        f.debug_struct("Organization")
            .field("management", &m.management)
            .field("delegated_administrators", &m.delegated_administrators)
            .field("accounts", &m.accounts)
            .finish()
    }
}

impl AccountSet {
    /// Whether `account` is in the set: O(1).
    #[must_use]
    pub fn contains(&self, account: &AccountId) -> bool {
        self.0.contains(account)
    }

    /// How many accounts the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The accounts in ascending order (allocates and sorts: for listing, not for lookups).
    #[must_use]
    pub fn to_sorted_vec(&self) -> Vec<AccountId> {
        let mut all: Vec<AccountId> = self.0.iter().copied().collect();
        all.sort_unstable();
        all
    }
}

impl fmt::Debug for AccountSet {
    /// The accounts in ascending order, never in hash order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.to_sorted_vec()).finish()
    }
}

impl Caller {
    /// A standalone caller.
    #[must_use]
    pub fn new(account: AccountId, region: Region) -> Self {
        Self {
            account,
            region,
            organization: None,
        }
    }

    /// The caller as part of `organization`. If its account is not in the organization it
    /// stays standalone. The organization is shared, not copied: pass a clone of one
    /// [`Organization`] to every caller.
    #[must_use]
    pub fn with_organization(mut self, organization: Organization) -> Self {
        self.organization = Some(organization);
        self
    }

    /// The caller's account.
    #[must_use]
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The caller's region: only jobs of this region are counted.
    #[must_use]
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The organization, if any.
    #[must_use]
    pub fn organization(&self) -> Option<&Organization> {
        self.organization.as_ref()
    }

    /// The caller's role (SPEC §4).
    #[must_use]
    pub fn role(&self) -> Role {
        match &self.organization {
            Some(org) if org.management() == self.account => Role::Management,
            Some(org) if org.delegated_administrators().contains(&self.account) => {
                Role::DelegatedAdministrator
            }
            Some(org) if org.accounts().contains(&self.account) => Role::Member,
            _ => Role::Standalone,
        }
    }

    /// Whether the caller sees the whole organization (management or delegated administrator).
    #[must_use]
    pub fn sees_organization(&self) -> bool {
        matches!(self.role(), Role::Management | Role::DelegatedAdministrator)
    }

    /// Whether jobs of `account` may be counted for this caller.
    #[must_use]
    pub fn can_see(&self, account: AccountId) -> bool {
        match (&self.organization, self.sees_organization()) {
            (Some(org), true) => org.contains(account),
            _ => account == self.account,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RecordError;

    fn acct(n: u64) -> Result<AccountId, RecordError> {
        AccountId::parse(&format!("{n:012}"))
    }

    #[test]
    fn roles_follow_membership() -> Result<(), RecordError> {
        let org = Organization::new(acct(1)?)
            .with_accounts([acct(2)?])
            .with_delegated_administrators([acct(3)?]);
        let region: Region = "us-east-1".parse()?;
        let role = |a| {
            Caller::new(a, region.clone())
                .with_organization(org.clone())
                .role()
        };
        assert_eq!(role(acct(1)?), Role::Management);
        assert_eq!(role(acct(2)?), Role::Member);
        assert_eq!(role(acct(3)?), Role::DelegatedAdministrator);
        assert_eq!(role(acct(4)?), Role::Standalone);
        assert_eq!(Caller::new(acct(1)?, region).role(), Role::Standalone);
        Ok(())
    }

    #[test]
    fn clones_share_and_equal_organizations_hash_alike() -> Result<(), RecordError> {
        use std::collections::hash_map::DefaultHasher;
        let hash = |c: &Caller| {
            let mut h = DefaultHasher::new();
            c.hash(&mut h);
            h.finish()
        };
        let org = Organization::new(acct(1)?)
            .with_accounts((2..1000).map(acct).collect::<Result<Vec<_>, _>>()?);
        let shared = org.clone();
        assert!(Arc::ptr_eq(&org.members, &shared.members));
        // Built apart, in another order: equal, and so the same hash.
        let rebuilt = Organization::new(acct(1)?)
            .with_accounts((2..1000).rev().map(acct).collect::<Result<Vec<_>, _>>()?);
        assert!(!Arc::ptr_eq(&org.members, &rebuilt.members));
        let region: Region = "us-east-1".parse()?;
        let a = Caller::new(acct(1)?, region.clone()).with_organization(shared);
        let b = Caller::new(acct(1)?, region.clone()).with_organization(rebuilt);
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        // One account more: not equal.
        let bigger = org.clone().with_accounts([acct(5000)?]);
        assert_ne!(bigger, org);
        assert!(bigger.contains(acct(5000)?) && !org.contains(acct(5000)?));
        assert_ne!(Caller::new(acct(1)?, region).with_organization(bigger), a);
        Ok(())
    }

    #[test]
    fn account_sets_list_and_print_in_order() -> Result<(), RecordError> {
        let org = Organization::new(acct(9)?)
            .with_accounts([acct(3)?, acct(1)?, acct(2)?])
            .with_delegated_administrators([acct(7)?]);
        assert_eq!(
            org.accounts().to_sorted_vec(),
            [acct(1)?, acct(2)?, acct(3)?]
        );
        assert_eq!(org.accounts().len(), 3);
        assert!(!org.delegated_administrators().is_empty());
        let shown = format!("{org:?}");
        let first = shown.find("AccountId(1)").unwrap_or(usize::MAX);
        let third = shown.find("AccountId(3)").unwrap_or(0);
        assert!(first < third, "{shown}");
        Ok(())
    }

    #[test]
    fn admins_are_members_even_if_unlisted() -> Result<(), RecordError> {
        let org = Organization::new(acct(1)?).with_delegated_administrators([acct(3)?]);
        assert!(org.contains(acct(1)?) && org.contains(acct(3)?) && !org.contains(acct(2)?));
        Ok(())
    }
}
