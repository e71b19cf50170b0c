//! IAM and STS ARNs as the authenticator and EKS see them.
//!
//! The authenticator compares an `aws-auth` ARN, lower-cased, with the caller's *canonical*
//! ARN (docs/aws-auth.md#caller-identity-and-canonical-arns): role sessions become
//! `arn:P:iam::A:role/NAME` with no path, user ARNs keep their path, root and federated users
//! are kept as they are. So the shape of the written ARN decides whether an entry can ever
//! match, and what kind of principal it is.

use serde::Serialize;

/// Partitions the authenticator accepts when it canonicalizes a caller's ARN.
pub const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    Role,
    User,
    Root,
    FederatedUser,
    AssumedRole,
}

/// A principal named by an `aws-auth` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    pub kind: PrincipalKind,
    pub partition: String,
    pub account: String,
    /// Role, user or federated-user name; for an assumed role, the role name.
    pub name: String,
    /// IAM path of a role or user, `/` when none; as written in the ARN.
    pub path: String,
}

impl Principal {
    /// The IAM ARN of a role or user with the given path.
    pub fn iam_arn(&self, path: &str) -> String {
        let kind = match self.kind {
            PrincipalKind::User => "user",
            _ => "role",
        };
        format!(
            "arn:{}:iam::{}:{kind}{path}{}",
            self.partition, self.account, self.name
        )
    }

    /// EKS's default username for a STANDARD entry of this principal
    /// (docs/access-entries.md#default-usernames).
    pub fn default_username(&self, path: &str) -> String {
        match self.kind {
            PrincipalKind::User => self.iam_arn(path),
            _ => format!(
                "arn:{}:sts::{}:assumed-role/{}/{{{{SessionName}}}}",
                self.partition, self.account, self.name
            ),
        }
    }

    pub fn is_service_linked_role(&self) -> bool {
        self.kind == PrincipalKind::Role
            && (self.path.starts_with("/aws-service-role/")
                || self.name.starts_with("AWSServiceRoleFor"))
    }

    /// IAM Identity Center roles always live under `/aws-reserved/sso.amazonaws.com/`.
    pub fn is_identity_center_role(&self) -> bool {
        self.kind == PrincipalKind::Role && self.name.starts_with("AWSReservedSSO_")
    }
}

/// Why a written ARN can never match a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArnProblem {
    /// Not an ARN the authenticator could ever produce (bad prefix, partition, account…).
    Malformed(String),
    /// Leading or trailing white space: the authenticator does not trim.
    Whitespace,
}

/// Parses the ARN of an `aws-auth` entry. Structural parts are compared case-insensitively, as
/// the authenticator lower-cases both sides; the returned names keep the written case.
pub fn parse(arn: &str) -> Result<Principal, ArnProblem> {
    let (principal, mut problems) = inspect(arn);
    match (principal, problems.is_empty()) {
        (Some(p), true) => Ok(p),
        _ => Err(problems.remove(0)),
    }
}

/// Every reason `arn` cannot be matched, not only the first, and the principal its resource
/// part names when that part is readable (so an assumed-role ARN with a bad account is still
/// recognised as one).
pub fn inspect(arn: &str) -> (Option<Principal>, Vec<ArnProblem>) {
    let mut problems = Vec::new();
    let trimmed = arn.trim();
    if trimmed != arn {
        problems.push(ArnProblem::Whitespace);
    }
    let mut malformed = |why: String| problems.push(ArnProblem::Malformed(why));
    let parts: Vec<&str> = trimmed.splitn(6, ':').collect();
    if parts.len() != 6 || !parts[0].eq_ignore_ascii_case("arn") {
        malformed("it is not an ARN (arn:PARTITION:SERVICE::ACCOUNT:RESOURCE)".into());
        return (None, problems);
    }
    let partition = parts[1].to_ascii_lowercase();
    if !PARTITIONS.contains(&partition.as_str()) {
        malformed(format!("`{}` is not an AWS partition", parts[1]));
    }
    let service = parts[2].to_ascii_lowercase();
    if !parts[3].is_empty() {
        malformed("IAM and STS ARNs have no region".into());
    }
    let account = parts[4];
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        malformed(format!("`{account}` is not a 12-digit account id"));
    }
    let resource = parts[5];
    let lower = resource.to_ascii_lowercase();
    let principal = |kind, name: &str, path: &str| Principal {
        kind,
        partition: partition.clone(),
        account: account.to_string(),
        name: name.to_string(),
        path: path.to_string(),
    };
    let found = match service.as_str() {
        "iam" if lower == "root" => Some(principal(PrincipalKind::Root, "root", "/")),
        "iam" if lower.starts_with("role/") || lower.starts_with("user/") => {
            let kind = if lower.starts_with("role/") {
                PrincipalKind::Role
            } else {
                PrincipalKind::User
            };
            let rest = &resource[5..];
            let (path, name) = match rest.rfind('/') {
                Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
                None => ("/".to_string(), rest),
            };
            if name.is_empty() {
                malformed("the principal name is empty".into());
                None
            } else {
                Some(principal(kind, name, &path))
            }
        }
        "sts" if lower.starts_with("assumed-role/") => {
            let rest = &resource["assumed-role/".len()..];
            let role = rest.split('/').next().unwrap_or_default();
            Some(principal(PrincipalKind::AssumedRole, role, "/"))
        }
        "sts" if lower.starts_with("federated-user/") => Some(principal(
            PrincipalKind::FederatedUser,
            &resource["federated-user/".len()..],
            "/",
        )),
        _ => {
            malformed(format!(
                "`{service}:{}` is not a role, user, root or federated-user ARN",
                resource.split('/').next().unwrap_or_default()
            ));
            None
        }
    };
    (found, problems)
}

/// The spelling EKS should receive: structural parts lower-case, names as written.
pub fn normalized(p: &Principal) -> String {
    match p.kind {
        PrincipalKind::Role | PrincipalKind::User => p.iam_arn(&p.path),
        PrincipalKind::Root => format!("arn:{}:iam::{}:root", p.partition, p.account),
        PrincipalKind::FederatedUser => {
            format!(
                "arn:{}:sts::{}:federated-user/{}",
                p.partition, p.account, p.name
            )
        }
        PrincipalKind::AssumedRole => {
            format!(
                "arn:{}:sts::{}:assumed-role/{}",
                p.partition, p.account, p.name
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_users_and_paths() {
        let r = parse("arn:aws:iam::111122223333:role/admin").unwrap();
        assert_eq!(
            (r.kind, r.name.as_str(), r.path.as_str()),
            (PrincipalKind::Role, "admin", "/")
        );
        let r = parse("arn:aws-cn:iam::111122223333:role/team/dev/deploy").unwrap();
        assert_eq!((r.name.as_str(), r.path.as_str()), ("deploy", "/team/dev/"));
        assert_eq!(
            r.iam_arn("/x/"),
            "arn:aws-cn:iam::111122223333:role/x/deploy"
        );
        let u = parse("ARN:AWS:IAM::111122223333:USER/ops/Alice").unwrap();
        assert_eq!(
            (u.kind, u.name.as_str(), u.path.as_str()),
            (PrincipalKind::User, "Alice", "/ops/")
        );
        assert_eq!(normalized(&u), "arn:aws:iam::111122223333:user/ops/Alice");
    }

    #[test]
    fn other_principals() {
        assert_eq!(
            parse("arn:aws:iam::111122223333:root").unwrap().kind,
            PrincipalKind::Root
        );
        let a = parse("arn:aws:sts::111122223333:assumed-role/admin/session").unwrap();
        assert_eq!(
            (a.kind, a.name.as_str()),
            (PrincipalKind::AssumedRole, "admin")
        );
        assert_eq!(
            parse("arn:aws:sts::111122223333:federated-user/bob")
                .unwrap()
                .kind,
            PrincipalKind::FederatedUser
        );
    }

    #[test]
    fn malformed_arns() {
        assert_eq!(
            parse(" arn:aws:iam::111122223333:role/a"),
            Err(ArnProblem::Whitespace)
        );
        for bad in [
            "role/a",
            "arn:aws:iam::1111:role/a",
            "arn:aws:iam:eu-west-1:111122223333:role/a",
            "arn:awz:iam::111122223333:role/a",
            "arn:aws:iam::111122223333:group/devs",
            "arn:aws:iam::111122223333:role/",
        ] {
            assert!(matches!(parse(bad), Err(ArnProblem::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let (p, problems) = inspect(" arn:aws:sts::4444:assumed-role/Admin/alice");
        assert_eq!(p.map(|p| p.kind), Some(PrincipalKind::AssumedRole));
        assert_eq!(
            problems,
            [
                ArnProblem::Whitespace,
                ArnProblem::Malformed("`4444` is not a 12-digit account id".into())
            ]
        );
        let (p, problems) = inspect("arn:awz:iam:eu-west-1:1:role/a");
        assert_eq!(p.map(|p| p.name), Some("a".to_string()));
        assert_eq!(problems.len(), 3, "{problems:?}");
        let (p, problems) = inspect("arn:aws:iam::111122223333:role/team/a");
        assert_eq!(p.map(|p| p.path), Some("/team/".to_string()));
        assert!(problems.is_empty());
    }

    #[test]
    fn service_linked_and_identity_center() {
        assert!(
            parse("arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers")
                .unwrap()
                .is_service_linked_role()
        );
        assert!(
            parse("arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123456789abcdef")
                .unwrap()
                .is_identity_center_role()
        );
    }

    #[test]
    fn default_usernames() {
        let r = parse("arn:aws-us-gov:iam::111122223333:role/deploy").unwrap();
        assert_eq!(
            r.default_username("/ci/"),
            "arn:aws-us-gov:sts::111122223333:assumed-role/deploy/{{SessionName}}"
        );
        let u = parse("arn:aws:iam::111122223333:user/ops/alice").unwrap();
        assert_eq!(
            u.default_username("/ops/"),
            "arn:aws:iam::111122223333:user/ops/alice"
        );
    }
}
