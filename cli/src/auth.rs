//! Who a request comes from, read from its SigV4 `Authorization` header.
//!
//! `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/backup/aws4_request, SignedHeaders=..., Signature=...`:
//! an access key id of 12 ASCII digits is taken as the caller's account, and the credential
//! scope's region as the caller's region. Signatures are not verified: this is a local test
//! endpoint, not a security boundary.

use backup_summaries::{AccountId, Region};

/// What an `Authorization` header says about the caller; `None` where it says nothing usable.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub(crate) struct Credential {
    /// The access key id, when it is a 12-digit account id.
    pub(crate) account: Option<AccountId>,
    /// The credential scope's region.
    pub(crate) region: Option<Region>,
}

impl Credential {
    /// Reads a SigV4 `Authorization` header value. Anything garbled gives the empty
    /// credential (the caller then falls back to the defaults).
    pub(crate) fn from_authorization(header: &str) -> Self {
        let Some(rest) = header.trim_start().strip_prefix("AWS4-HMAC-SHA256") else {
            return Self::default();
        };
        let Some(scope) = rest
            .split(',')
            .map(str::trim)
            .find_map(|part| part.strip_prefix("Credential="))
        else {
            return Self::default();
        };
        let mut parts = scope.split('/');
        let access_key = parts.next().unwrap_or("");
        let region = parts.nth(1).unwrap_or("");
        let account = if access_key.len() == 12 && access_key.bytes().all(|b| b.is_ascii_digit()) {
            AccountId::parse(access_key).ok()
        } else {
            None
        };
        let region = if region.is_empty() {
            None
        } else {
            Region::parse(region).ok()
        };
        Self { account, region }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=111122223333/20261127/eu-west-1/backup/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";

    #[test]
    fn twelve_digit_key_is_the_account_and_scope_gives_the_region() {
        let c = Credential::from_authorization(SIGNED);
        assert_eq!(
            c.account.map(|a| a.to_string()).as_deref(),
            Some("111122223333")
        );
        assert_eq!(c.region.as_ref().map(Region::as_str), Some("eu-west-1"));
    }

    #[test]
    fn other_keys_keep_the_region_but_not_an_account() {
        let c = Credential::from_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/us-west-2/backup/aws4_request,SignedHeaders=host,Signature=0",
        );
        assert_eq!(c.account, None);
        assert_eq!(c.region.as_ref().map(Region::as_str), Some("us-west-2"));
    }

    #[test]
    fn garbled_headers_say_nothing() {
        for header in [
            "",
            "Bearer x",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Signature=1",
            "AWS4-HMAC-SHA256 Credential=",
        ] {
            assert_eq!(
                Credential::from_authorization(header),
                Credential::default(),
                "{header:?}"
            );
        }
        let short =
            Credential::from_authorization("AWS4-HMAC-SHA256 Credential=123456789012/20261127");
        assert!(short.account.is_some() && short.region.is_none());
    }
}
