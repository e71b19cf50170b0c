//! IAM and STS through aws-sdk-iam / aws-sdk-sts, and verification of EKS tokens presigned with
//! the aws-sigv4 crate exactly as `aws eks get-token` builds them.

mod eks_support;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use eks_sim::sts::{TokenError, verify_presigned_get_caller_identity, verify_token};
use eks_sim::world::ClusterSpec;
use eks_support::*;

#[tokio::test]
async fn get_caller_identity_reports_user_and_assumed_role() {
    let server = start(base()).await;
    let sts = sts_as(&server, ADMIN_KEY, ADMIN_SECRET).await;
    let me = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some(user(A, "admin").as_str()));
    assert_eq!(me.account(), Some(A));
    assert!(me.user_id().unwrap().starts_with("AIDA"));

    let assumed = sts
        .assume_role()
        .role_arn(role(B, "CrossAccountAdmin"))
        .role_session_name("migration@example.com")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    let user_info = assumed.assumed_role_user().unwrap();
    assert_eq!(
        user_info.arn(),
        "arn:aws:sts::444455556666:assumed-role/CrossAccountAdmin/migration@example.com"
    );
    assert!(user_info.assumed_role_id().starts_with("AROA"));
    assert!(
        user_info
            .assumed_role_id()
            .ends_with(":migration@example.com")
    );

    let cfg = sdk_config(
        &server,
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token().to_string()),
    )
    .await;
    let who = aws_sdk_sts::Client::new(&cfg)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.arn(), Some(user_info.arn()));
    assert_eq!(who.account(), Some(B));
}

#[tokio::test]
async fn assume_role_follows_the_trust_list() {
    let server = start(base()).await;
    let admin = sts_as(&server, ADMIN_KEY, ADMIN_SECRET).await;
    // Trusted by account id.
    admin
        .assume_role()
        .role_arn(role(B, "AccountTrusted"))
        .role_session_name("s1")
        .send()
        .await
        .unwrap();
    // Not trusted; and a role that does not exist looks the same.
    for arn in [role(A, "Untrusting"), role(B, "Ghost")] {
        let r = admin
            .assume_role()
            .role_arn(&arn)
            .role_session_name("s1")
            .send()
            .await;
        assert_eq!(status_of(&r), 403);
        assert_service_error(
            r,
            "AccessDenied",
            format!(
                "User: arn:aws:iam::111122223333:user/admin is not authorized to perform: sts:AssumeRole on resource: {arn}"
            ),
        );
    }
    // Alice is not in CrossAccountAdmin's trust list.
    let alice = sts_as(&server, ALICE_KEY, ALICE_SECRET).await;
    let r = alice
        .assume_role()
        .role_arn(role(B, "CrossAccountAdmin"))
        .role_session_name("s1")
        .send()
        .await;
    assert_eq!(service_error(r).0, "AccessDenied");
    let r = admin
        .assume_role()
        .role_arn(role(A, "Deployer"))
        .role_session_name("bad name!")
        .send()
        .await;
    assert_eq!(service_error(r).0, "ValidationError");
}

#[tokio::test]
async fn assumed_credentials_reach_the_other_accounts_clusters() {
    let server = start(base().cluster(ClusterSpec::new("b-prod", B, REGION))).await;
    let admin_eks = eks(&server).await;
    assert_eq!(
        service_error(admin_eks.describe_cluster().name("b-prod").send().await).0,
        "AccessDeniedException"
    );
    let sts = sts_as(&server, ADMIN_KEY, ADMIN_SECRET).await;
    let out = sts
        .assume_role()
        .role_arn(role(B, "CrossAccountAdmin"))
        .role_session_name("aws-auth-migrate")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let cfg = sdk_config(
        &server,
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
    )
    .await;
    let b_eks = aws_sdk_eks::Client::new(&cfg);
    b_eks
        .describe_cluster()
        .name("b-prod")
        .send()
        .await
        .unwrap();

    // Without the session token the temporary key is refused.
    let no_token = eks_as(&server, c.access_key_id(), c.secret_access_key()).await;
    assert_eq!(
        service_error(no_token.list_clusters().send().await).0,
        "UnrecognizedClientException"
    );
    // Expired credentials are refused.
    server.sim().advance_clock(Duration::from_secs(3601));
    let r = b_eks.list_clusters().send().await;
    assert_eq!(service_error(r).0, "ExpiredTokenException");
}

/// Expired session credentials: `ExpiredToken` with 403 on IAM and STS (as their wire answers
/// are reported; the conformance test checks the same), `ExpiredTokenException` 403 on EKS.
#[tokio::test]
async fn expired_session_credentials_answer_403_on_every_service() {
    let server = start(base()).await;
    let sts = sts_as(&server, ADMIN_KEY, ADMIN_SECRET).await;
    let out = sts
        .assume_role()
        .role_arn(role(B, "CrossAccountAdmin"))
        .role_session_name("expiring")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let cfg = sdk_config(
        &server,
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
    )
    .await;
    let (sts, iam, eks) = (
        aws_sdk_sts::Client::new(&cfg),
        aws_sdk_iam::Client::new(&cfg),
        aws_sdk_eks::Client::new(&cfg),
    );
    sts.get_caller_identity().send().await.unwrap();
    server.sim().advance_clock(Duration::from_secs(3601));

    let r = sts.get_caller_identity().send().await;
    assert_eq!(status_of(&r), 403);
    assert_service_error(
        r,
        "ExpiredToken",
        "The security token included in the request is expired",
    );
    let r = iam.get_role().role_name("CrossAccountAdmin").send().await;
    assert_eq!(status_of(&r), 403);
    assert_eq!(service_error(r).0, "ExpiredToken");
    let r = eks.list_clusters().send().await;
    assert_eq!(status_of(&r), 403);
    assert_eq!(service_error(r).0, "ExpiredTokenException");
}

#[tokio::test]
async fn iam_get_role_get_user_and_list_roles() {
    let server = start(base()).await;
    let iam = iam(&server).await;
    let r = iam.get_role().role_name(SSO_ROLE).send().await.unwrap();
    let r = r.role().unwrap();
    assert_eq!(r.path(), SSO_PATH);
    assert_eq!(
        r.arn(),
        format!("arn:aws:iam::{A}:role{SSO_PATH}{SSO_ROLE}")
    );
    assert!(r.role_id().starts_with("AROA"));
    // Role names are case-insensitive in IAM.
    let d = iam.get_role().role_name("developer").send().await.unwrap();
    assert_eq!(d.role().unwrap().arn(), role(A, "team/dev/Developer"));
    let missing = iam.get_role().role_name("Ghost").send().await;
    assert_eq!(status_of(&missing), 404);
    assert_service_error(
        missing,
        "NoSuchEntity",
        "The role with name Ghost cannot be found.",
    );
    // Roles of other accounts are not visible with this account's credentials.
    assert_eq!(
        service_error(iam.get_role().role_name("Auditor").send().await).0,
        "NoSuchEntity"
    );

    let me = iam.get_user().send().await.unwrap();
    assert_eq!(me.user().unwrap().user_name(), "admin");
    let alice = iam.get_user().user_name("alice").send().await.unwrap();
    assert_eq!(alice.user().unwrap().arn(), user(A, "people/alice"));
    assert!(alice.user().unwrap().user_id().starts_with("AIDA"));
    assert_eq!(
        service_error(iam.get_user().user_name("ghost").send().await).0,
        "NoSuchEntity"
    );

    let mut names = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let page = iam
            .list_roles()
            .max_items(3)
            .set_marker(marker)
            .send()
            .await
            .unwrap();
        pages += 1;
        names.extend(page.roles().iter().map(|r| r.role_name().to_string()));
        if !page.is_truncated() {
            assert!(page.marker().is_none());
            break;
        }
        marker = page.marker().map(str::to_string);
    }
    let total = iam.list_roles().send().await.unwrap().roles().len();
    assert_eq!(names.len(), total);
    assert_eq!(pages, total.div_ceil(3));
    let sso = iam
        .list_roles()
        .path_prefix("/aws-reserved/")
        .send()
        .await
        .unwrap();
    assert_eq!(sso.roles().len(), 1);
    assert_eq!(sso.roles()[0].role_name(), SSO_ROLE);
}

/// A token as `aws eks get-token` builds it: a GetCallerIdentity URL presigned with
/// `x-k8s-aws-id` signed, base64url without padding, prefixed `k8s-aws-v1.`.
fn presign(
    key: &str,
    secret: &str,
    session: Option<&str>,
    cluster: &str,
    signed_cluster_header: bool,
    at: SystemTime,
) -> String {
    let sts = "https://sts.us-east-1.amazonaws.com";
    presign_at(
        sts,
        key,
        secret,
        session,
        cluster,
        signed_cluster_header,
        at,
    )
}

/// [`presign`] for an STS endpoint of one's choosing (e.g. the simulator's own).
fn presign_at(
    base: &str,
    key: &str,
    secret: &str,
    session: Option<&str>,
    cluster: &str,
    signed_cluster_header: bool,
    at: SystemTime,
) -> String {
    let identity = Credentials::new(key, secret, session.map(str::to_string), None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("sts")
        .time(at)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("{base}/?Action=GetCallerIdentity&Version=2011-06-15");
    let url = url.as_str();
    let headers: Vec<(&str, &str)> = if signed_cluster_header {
        vec![("x-k8s-aws-id", cluster)]
    } else {
        Vec::new()
    };
    let signable =
        SignableRequest::new("GET", url, headers.into_iter(), SignableBody::Bytes(&[])).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder().uri(url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    let presigned = req.uri().to_string();
    format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
    )
}

#[tokio::test]
async fn eks_tokens_are_verified_for_signature_cluster_and_age() {
    let server = start(base()).await;
    let sim = server.sim().clone();
    let now = SystemTime::now();

    let token = presign(ADMIN_KEY, ADMIN_SECRET, None, "prod", true, now);
    let who = verify_token(&sim, &token, "prod").unwrap();
    assert_eq!(who.arn, user(A, "admin"));
    assert_eq!(who.canonical_arn, user(A, "admin"));
    assert_eq!(who.account, A);
    assert_eq!(who.access_key_id, ADMIN_KEY);
    assert!(who.session_name.is_empty());

    // Bound to one cluster: presented to another, the signature no longer matches.
    assert_eq!(
        verify_token(&sim, &token, "staging"),
        Err(TokenError::SignatureMismatch)
    );
    // Wrong secret.
    let forged = presign(ADMIN_KEY, "guess", None, "prod", true, now);
    assert_eq!(
        verify_token(&sim, &forged, "prod"),
        Err(TokenError::SignatureMismatch)
    );
    // x-k8s-aws-id must be signed.
    let unbound = presign(ADMIN_KEY, ADMIN_SECRET, None, "prod", false, now);
    assert_eq!(
        verify_token(&sim, &unbound, "prod"),
        Err(TokenError::ClusterIdNotSigned)
    );
    // Unknown key.
    let unknown = presign("AKIAUNKNOWN000000000", "x", None, "prod", true, now);
    assert!(matches!(
        verify_token(&sim, &unknown, "prod"),
        Err(TokenError::UnknownAccessKey(_))
    ));
    // Not a token / not a GetCallerIdentity URL.
    assert_eq!(
        verify_token(&sim, "Bearer abc", "prod"),
        Err(TokenError::NotEksToken)
    );
    let other_action = "https://sts.us-east-1.amazonaws.com/?Action=AssumeRole&Version=2011-06-15";
    assert!(matches!(
        verify_presigned_get_caller_identity(&sim, other_action, "prod"),
        Err(TokenError::NotGetCallerIdentity(_))
    ));
    for evil_host in [
        "https://evil.example.com/?Action=GetCallerIdentity&Version=2011-06-15",
        "https://sts.evil.example.com/?Action=GetCallerIdentity&Version=2011-06-15",
        "https://sts.amazonaws.com.evil.example/?Action=GetCallerIdentity&Version=2011-06-15",
        "https://sts.evil.example.c2s.ic.gov/?Action=GetCallerIdentity&Version=2011-06-15",
    ] {
        assert!(
            matches!(
                verify_presigned_get_caller_identity(&sim, evil_host, "prod"),
                Err(TokenError::NotGetCallerIdentity(_))
            ),
            "{evil_host}"
        );
    }
    // The regional STS host of every partition (the authenticator takes its partition's).
    for sts in [
        "https://sts.cn-north-1.amazonaws.com.cn",
        "https://sts.us-gov-west-1.amazonaws.com",
        "https://sts.us-iso-east-1.c2s.ic.gov",
        "https://sts.us-isob-east-1.sc2s.sgov.gov",
        "https://sts.eu-isoe-west-1.cloud.adc-e.uk",
        "https://sts.us-isof-south-1.csp.hci.ic.gov",
        "https://sts.eusc-de-east-1.amazonaws.eu",
    ] {
        let token = presign_at(sts, ADMIN_KEY, ADMIN_SECRET, None, "prod", true, now);
        assert_eq!(
            verify_token(&sim, &token, "prod").map(|who| who.arn),
            Ok(user(A, "admin")),
            "{sts}"
        );
    }

    // X-Amz-Expires is 60 s here, as `aws eks get-token` writes it, but the authenticator
    // ignores it: a token is good for 15 minutes from X-Amz-Date, and not a second longer.
    sim.advance_clock(Duration::from_secs(61));
    assert!(verify_token(&sim, &token, "prod").is_ok());
    sim.advance_clock(Duration::from_secs(899 - 61));
    assert!(verify_token(&sim, &token, "prod").is_ok());
    sim.advance_clock(Duration::from_secs(2));
    assert_eq!(verify_token(&sim, &token, "prod"), Err(TokenError::Expired));
}

#[tokio::test]
async fn tokens_of_assumed_roles_carry_the_session() {
    let server = start(base()).await;
    let sim = server.sim().clone();
    let sts = sts_as(&server, ADMIN_KEY, ADMIN_SECRET).await;
    let out = sts
        .assume_role()
        .role_arn(role(A, "Deployer"))
        .role_session_name("jane@example.com")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let token = presign(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token()),
        "prod",
        true,
        SystemTime::now(),
    );
    let who = verify_token(&sim, &token, "prod").unwrap();
    assert_eq!(
        who.arn,
        "arn:aws:sts::111122223333:assumed-role/Deployer/jane@example.com"
    );
    assert_eq!(who.canonical_arn, role(A, "Deployer"));
    assert_eq!(who.session_name, "jane@example.com");
    assert!(who.user_id.ends_with(":jane@example.com"));
    assert_eq!(
        Some(who.principal_id),
        sim.unique_id_of(&role(A, "Deployer"))
    );
    // The session token is part of the credentials: a token presigned without it is refused.
    let tokenless = presign(
        c.access_key_id(),
        c.secret_access_key(),
        None,
        "prod",
        true,
        SystemTime::now(),
    );
    assert_eq!(
        verify_token(&sim, &tokenless, "prod"),
        Err(TokenError::BadSessionToken)
    );
}

/// The presigned URL of a token, fetched from the simulator's own STS endpoint, answers
/// GetCallerIdentity (what the authenticator does with it); the same token verifies in-process.
#[tokio::test]
async fn presigned_get_caller_identity_is_served_over_http() {
    let server = start(base()).await;
    let token = presign_at(
        &server.aws_url(),
        ALICE_KEY,
        ALICE_SECRET,
        None,
        "prod",
        true,
        SystemTime::now(),
    );
    let who = verify_token(server.sim(), &token, "prod").unwrap();
    assert_eq!(who.arn, user(A, "people/alice"));

    let url = eks_sim::sts::decode_token(&token).unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    let hostport = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap());
    let path_and_query = format!("/?{}", parsed.query().unwrap());
    let get = |extra: &'static str| {
        let hostport = hostport.clone();
        let path_and_query = path_and_query.clone();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(&hostport).await.unwrap();
            let req = format!(
                "GET {path_and_query} HTTP/1.1\r\nHost: {hostport}\r\nx-k8s-aws-id: {extra}\r\nConnection: close\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    let ok = get("prod").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(
        ok.contains("<Arn>arn:aws:iam::111122223333:user/people/alice</Arn>"),
        "{ok}"
    );
    // Sent with another cluster id, the signature does not match.
    let wrong = get("staging").await;
    assert!(wrong.starts_with("HTTP/1.1 403"), "{wrong}");
    assert!(wrong.contains("SignatureDoesNotMatch"), "{wrong}");
}

#[tokio::test]
async fn get_role_refuses_names_iam_cannot_have() {
    let server = start(base()).await;
    let iam = iam(&server).await;
    for name in ["ops team".to_string(), "r".repeat(65), "a/b".to_string()] {
        let result = iam.get_role().role_name(&name).send().await;
        assert_eq!(status_of(&result), 400, "{name}");
        let (code, message) = service_error(result);
        assert_eq!(code, "ValidationError", "{name}");
        assert!(message.contains("'roleName'"), "{message}");
    }
    // A valid name that does not exist is still 404 NoSuchEntity.
    let result = iam.get_role().role_name("nobody").send().await;
    assert_eq!(service_error(result).0, "NoSuchEntity");
}
