//! The catalogue of finding codes: one place that says what each code means and how severe
//! it is. `docs/findings.md` documents the same list for users, and the golden tests check that
//! every code here is produced by at least one fixture under `testdata/`.

use crate::model::{Finding, Severity};

pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

macro_rules! catalogue {
    ($($code:literal $sev:ident $summary:literal;)*) => {
        pub const CATALOGUE: &[Code] = &[$(Code { code: $code, severity: Severity::$sev, summary: $summary }),*];
    };
}

catalogue! {
    // The ConfigMap and its keys.
    "key-parse-failed" Blocker "a key's text is not valid YAML or JSON, so the authenticator loads none of its entries";
    "key-wrong-type" Blocker "a key holds something other than a list, so the authenticator loads none of its entries";
    "key-wrong-case" Warning "a data key such as `maproles` is ignored: key names are case-sensitive";
    "key-unknown" Warning "a data key the authenticator does not read (a misspelt mapRoles, mapUsers or mapAccounts?) grants nothing";
    "key-duplicate" Warning "a data key is written twice; only the last one counts";
    "key-empty-marker" Info "a value of ``, \"\" or '' is treated as absent";
    "extra-document" Warning "a key's text holds several YAML documents; only the first is read";
    "no-data" Info "the ConfigMap maps no roles, users or accounts";
    // Single entries.
    "entry-invalid" Warning "an entry fails the authenticator's validation and is dropped";
    "field-type-mismatch" Warning "a field has the wrong type; the authenticator ignores the field but keeps the entry";
    "group-not-a-string" Warning "a group is not a string; the authenticator makes it an empty group";
    "field-name-noncanonical" Warning "a field is spelt otherwise than the authenticator's own `rolearn`/`userarn`/`username`/`groups`; EKS may not read `roleARN`";
    "unknown-field" Info "a field the authenticator does not know is ignored";
    "unknown-field-typo" Warning "an unknown field looks like a misspelt known one";
    "yaml11-reading" Warning "a value reads differently under YAML 1.1 (the authenticator's reader) than under YAML 1.2";
    "duplicate-role" Warning "a role ARN is mapped more than once; the last entry wins";
    "duplicate-user" Warning "a user ARN is mapped more than once; the last entry wins";
    "duplicate-user-case" Blocker "a user ARN is mapped more than once in different letter case; which one applies is random";
    "shadowed-by-maproles" Warning "a mapUsers entry names an ARN that mapRoles also maps; mapRoles wins";
    "section-mismatch" Info "an entry sits in the other section; it works, classified by its ARN";
    "arn-whitespace" Warning "an ARN has leading or trailing white space and can never match";
    "arn-malformed" Warning "an ARN is not one the authenticator can match; the entry is dead";
    "role-arn-with-path" Warning "a role ARN written with a path never matched in aws-auth; it is not migrated";
    "ineffective-included" Warning "--include-ineffective migrates a role ARN with a path that never matched: access is newly granted";
    "assumed-role-arn" Warning "an STS assumed-role ARN never matches; migrating it would grant new access";
    "arn-spelling" Info "an ARN's fixed parts are not lower case; the access entry uses the normal spelling";
    "sso-matcher" Blocker "an `sso` permission-set matcher has no access-entry equivalent";
    "account-malformed" Warning "a mapAccounts value is not a 12-digit account id and matches nothing";
    "map-accounts" Blocker "mapAccounts admits every principal of an account; access entries cannot";
    // Translation.
    "root-principal" Blocker "an account root user cannot have an access entry";
    "federated-user" Blocker "an STS federated user cannot have an access entry";
    "service-linked-role" Blocker "a service-linked role cannot have an access entry; it stays in aws-auth";
    "system-masters" Info "system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope";
    "system-group" Blocker "a system: group cannot be an access-entry group";
    "node-role" Info "a node role becomes a node-type access entry";
    "node-type-from-nodegroup" Info "a managed node group's AMI decides EC2_LINUX or EC2_WINDOWS over aws-auth's groups";
    "node-role-heuristic" Warning "Fargate and hybrid node roles look alike in aws-auth; the type is a best guess";
    "node-role-and-human" Blocker "a node role also gets a system: group such as system:masters; one access entry cannot serve both";
    "node-role-group-dropped" Warning "a node role's extra groups are dropped: node entries carry no groups";
    "node-role-cluster-role" Warning "a node mapping names a role called like the cluster's service role";
    "node-role-user" Blocker "an IAM user has a node username; node entries need roles";
    "node-role-cross-account" Blocker "node-type access entries need a role in the cluster's account";
    "username-empty" Warning "aws-auth gives an empty username; EKS will generate one instead";
    "username-reserved-prefix" Warning "EKS rejects usernames starting with system:, eks:, aws:, amazon: or iam:; the entry gets EKS's default username";
    "username-session-colon" Warning "EKS requires a colon before {{SessionName}} in a username; the entry gets EKS's default username";
    "username-template-unsupported" Warning "a username template has no access-entry equivalent; the entry gets EKS's default username";
    "username-session-name-raw" Warning "{{SessionNameRaw}} support in access entries is unconfirmed";
    "username-account-id" Info "{{AccountID}} is expanded to the principal's account";
    "username-unknown-template" Warning "an unknown {{…}} placeholder is kept literally";
    "group-template" Blocker "a templated group name has no access-entry equivalent";
    "group-empty" Warning "an empty group name is dropped";
    "group-reserved-prefix" Warning "a group with an eks:, aws:, amazon: or iam: prefix may be rejected";
    "group-whitespace" Warning "a group name contains white space: list items merged by stray indentation?";
    "group-duplicate" Info "a group is listed twice; it is sent once";
    "policy-map-applied" Info "a group became an access policy through --policy-map";
    "role-path-unverified" Info "a role's IAM path cannot be checked offline; `/` is assumed";
    "role-path-required" Warning "an IAM Identity Center role always has a path, which aws-auth strips";
    "role-path-from-file" Info "a role's IAM path came from --role-paths or IAM";
    "role-name-invalid" Warning "IAM refuses the role name (over 64 characters, or outside [\\w+=,.@-]): the mapping matches nobody and is not migrated";
    "role-not-found" Warning "IAM has no such role, so the mapping matches nobody and is not migrated";
    "cross-account-principal" Info "the principal lives in another account than the cluster";
    "no-cluster-admin" Warning "no access entry gets cluster admin; keep a break-glass admin before the switch to API";
    "rbac-user-orphaned" Blocker "a kind: User binding names the aws-auth username, which the access entry changes; the mapping stays in aws-auth";
    "rbac-group-unbound" Info "a group of a planned entry is named by no binding";
    "rbac-group-matches-policy" Info "a group is only bound to view, edit or admin; an access policy could replace it";
    "entry-limit" Blocker "more than 3,000 access entries: the EKS per-cluster limit";
}

/// The catalogue entry of `code`.
pub fn lookup(code: &str) -> Option<&'static Code> {
    CATALOGUE.iter().find(|c| c.code == code)
}

/// A finding with the catalogue's severity for `code`.
pub fn finding(code: &'static str, message: impl Into<String>) -> Finding {
    let severity = lookup(code).map_or_else(
        || {
            debug_assert!(false, "finding code `{code}` is not in the catalogue");
            Severity::Warning
        },
        |c| c.severity,
    );
    Finding::new(severity, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_documented() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/findings.md"))
            .expect("docs/findings.md exists");
        for (i, c) in CATALOGUE.iter().enumerate() {
            assert!(
                CATALOGUE[..i].iter().all(|o| o.code != c.code),
                "duplicate {}",
                c.code
            );
            assert!(
                doc.contains(&format!("`{}`", c.code)),
                "{} is not documented in docs/findings.md",
                c.code
            );
        }
    }
}
