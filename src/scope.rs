//! Who sees what (SPEC §4): the caller, its organization and its role in it.
//!
//! The engine takes the caller as input and never reads credentials itself.

use std::collections::BTreeSet;

use crate::record::{AccountId, Region};

/// An AWS Organizations organization: its management account, its delegated administrators
/// for AWS Backup, and its accounts. The management account and the delegated administrators
/// are members whether or not [`Organization::accounts`] names them.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Organization {
    management: AccountId,
    delegated_administrators: BTreeSet<AccountId>,
    accounts: BTreeSet<AccountId>,
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
            management,
            delegated_administrators: BTreeSet::new(),
            accounts: BTreeSet::new(),
        }
    }

    /// Adds member accounts.
    #[must_use]
    pub fn with_accounts(mut self, accounts: impl IntoIterator<Item = AccountId>) -> Self {
        self.accounts.extend(accounts);
        self
    }

    /// Adds delegated administrators (they are members too).
    #[must_use]
    pub fn with_delegated_administrators(
        mut self,
        admins: impl IntoIterator<Item = AccountId>,
    ) -> Self {
        self.delegated_administrators.extend(admins);
        self
    }

    /// The management account.
    #[must_use]
    pub fn management(&self) -> AccountId {
        self.management
    }

    /// The delegated administrators.
    #[must_use]
    pub fn delegated_administrators(&self) -> &BTreeSet<AccountId> {
        &self.delegated_administrators
    }

    /// The accounts named as members (see [`Organization::contains`] for the full set).
    #[must_use]
    pub fn accounts(&self) -> &BTreeSet<AccountId> {
        &self.accounts
    }

    /// Whether `account` belongs to the organization.
    #[must_use]
    pub fn contains(&self, account: AccountId) -> bool {
        account == self.management
            || self.accounts.contains(&account)
            || self.delegated_administrators.contains(&account)
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
    /// stays standalone.
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
            Some(org) if org.management == self.account => Role::Management,
            Some(org) if org.delegated_administrators.contains(&self.account) => {
                Role::DelegatedAdministrator
            }
            Some(org) if org.accounts.contains(&self.account) => Role::Member,
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
    fn admins_are_members_even_if_unlisted() -> Result<(), RecordError> {
        let org = Organization::new(acct(1)?).with_delegated_administrators([acct(3)?]);
        assert!(org.contains(acct(1)?) && org.contains(acct(3)?) && !org.contains(acct(2)?));
        Ok(())
    }
}
