//! Which AWS service and operation a request calls: the service from its
//! SigV4 credential scope, the operation from the protocol's own marker
//! (`X-Amz-Target`, `Action=`) or, for the REST services the project
//! calls (S3, Batch, EFS), from the method and path.

use crate::http::Request;

/// The service's signing name (`s3`, `batch`, `elasticfilesystem`,
/// `states`, ...), or `unsigned`.
pub fn service(request: &Request) -> String {
    let scope = request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or("").to_string())
        .or_else(|| query_param(&request.target, "X-Amz-Credential").map(|c| c.replace("%2F", "/")));
    // AKID/date/region/service/aws4_request
    scope.and_then(|s| s.split('/').nth(3).map(str::to_string)).unwrap_or_else(|| "unsigned".into())
}

/// The operation's name, as the service's API reference spells it where
/// the request says it; otherwise `METHOD /path`, ids left out.
pub fn operation(request: &Request, service: &str) -> String {
    if let Some(target) = request.header("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    if let Some(action) =
        query_param(&request.target, "Action").or_else(|| form_param(&request.body, "Action"))
    {
        return action;
    }
    let path = request.path();
    let known = match service {
        "s3" => Some(s3_operation(request)),
        "batch" => batch_operation(&request.method, path),
        "elasticfilesystem" => efs_operation(&request.method, path),
        _ => None,
    };
    known.map(str::to_string).unwrap_or_else(|| generic(&request.method, path))
}

fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_string())
    })
}

fn form_param(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    query_param(&format!("?{text}"), name)
}

fn has_query(target: &str, name: &str) -> bool {
    target.split_once('?').is_some_and(|(_, q)| q.split('&').any(|kv| kv.split('=').next() == Some(name)))
}

/// Path-style requests (the endpoint override forces them): `/bucket` or
/// `/bucket/key`.
fn s3_operation(request: &Request) -> &'static str {
    let target = &request.target;
    let has_key = request.path().trim_start_matches('/').split_once('/').is_some_and(|(_, k)| !k.is_empty());
    if request.path().trim_start_matches('/').is_empty() {
        return if request.method == "GET" { "ListBuckets" } else { "Other" };
    }
    match (request.method.as_str(), has_key) {
        ("GET", false) if has_query(target, "list-type") => "ListObjectsV2",
        ("GET", false) if has_query(target, "location") => "GetBucketLocation",
        ("GET", false) if has_query(target, "versions") => "ListObjectVersions",
        ("GET", false) if has_query(target, "tagging") => "GetBucketTagging",
        ("PUT", false) if has_query(target, "tagging") => "PutBucketTagging",
        ("GET", false) => "ListObjects",
        ("HEAD", false) => "HeadBucket",
        ("PUT", false) => "CreateBucket",
        ("DELETE", false) => "DeleteBucket",
        ("POST", false) if has_query(target, "delete") => "DeleteObjects",
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("DELETE", true) if has_query(target, "uploadId") => "AbortMultipartUpload",
        ("DELETE", true) => "DeleteObject",
        ("POST", true) if has_query(target, "uploads") => "CreateMultipartUpload",
        ("POST", true) if has_query(target, "uploadId") => "CompleteMultipartUpload",
        ("PUT", true) if has_query(target, "partNumber") => "UploadPart",
        ("PUT", true) if request.header("x-amz-copy-source").is_some() => "CopyObject",
        ("PUT", true) => "PutObject",
        _ => "Other",
    }
}

/// Batch's REST paths are `/v1/<operation in lower case>`, tags aside.
fn batch_operation(method: &str, path: &str) -> Option<&'static str> {
    const OPERATIONS: [&str; 20] = [
        "CancelJob",
        "CreateComputeEnvironment",
        "CreateJobQueue",
        "CreateSchedulingPolicy",
        "DeleteComputeEnvironment",
        "DeleteJobQueue",
        "DeleteSchedulingPolicy",
        "DeregisterJobDefinition",
        "DescribeComputeEnvironments",
        "DescribeJobDefinitions",
        "DescribeJobQueues",
        "DescribeJobs",
        "DescribeSchedulingPolicies",
        "ListJobs",
        "RegisterJobDefinition",
        "SubmitJob",
        "TerminateJob",
        "UpdateComputeEnvironment",
        "UpdateJobQueue",
        "UpdateSchedulingPolicy",
    ];
    if path.starts_with("/v1/tags/") {
        return Some(match method {
            "GET" => "ListTagsForResource",
            "DELETE" => "UntagResource",
            _ => "TagResource",
        });
    }
    let name = path.strip_prefix("/v1/")?;
    OPERATIONS.iter().copied().find(|op| op.eq_ignore_ascii_case(name))
}

/// EFS: `/2015-02-01/<collection>[/<id>[/<sub-resource>]]`.
fn efs_operation(method: &str, path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let op = match (method, parts.get(1).copied(), parts.len(), parts.get(3).copied()) {
        ("POST", Some("file-systems"), 2, _) => "CreateFileSystem",
        ("GET", Some("file-systems"), 2, _) => "DescribeFileSystems",
        ("DELETE", Some("file-systems"), 3, _) => "DeleteFileSystem",
        ("PUT", Some("file-systems"), 3, _) => "UpdateFileSystem",
        ("PUT", Some("file-systems"), 4, Some("lifecycle-configuration")) => "PutLifecycleConfiguration",
        ("GET", Some("file-systems"), 4, Some("lifecycle-configuration")) => "DescribeLifecycleConfiguration",
        ("PUT", Some("file-systems"), 4, Some("backup-policy")) => "PutBackupPolicy",
        ("GET", Some("file-systems"), 4, Some("backup-policy")) => "DescribeBackupPolicy",
        ("PUT", Some("file-systems"), 4, Some("policy")) => "PutFileSystemPolicy",
        ("GET", Some("file-systems"), 4, Some("policy")) => "DescribeFileSystemPolicy",
        ("POST", Some("mount-targets"), 2, _) => "CreateMountTarget",
        ("GET", Some("mount-targets"), 2, _) => "DescribeMountTargets",
        ("DELETE", Some("mount-targets"), 3, _) => "DeleteMountTarget",
        ("GET", Some("mount-targets"), 4, Some("security-groups")) => "DescribeMountTargetSecurityGroups",
        ("PUT", Some("mount-targets"), 4, Some("security-groups")) => "ModifyMountTargetSecurityGroups",
        ("POST", Some("access-points"), 2, _) => "CreateAccessPoint",
        ("GET", Some("access-points"), 2, _) => "DescribeAccessPoints",
        ("DELETE", Some("access-points"), 3, _) => "DeleteAccessPoint",
        ("POST", Some("resource-tags"), 3, _) => "TagResource",
        ("GET", Some("resource-tags"), 3, _) => "ListTagsForResource",
        ("DELETE", Some("resource-tags"), 3, _) => "UntagResource",
        _ => return None,
    };
    Some(op)
}

/// `METHOD /first/segments`: ids (anything with a digit) left out, so
/// every call of one operation has one name.
fn generic(method: &str, path: &str) -> String {
    let kept: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && !s.bytes().any(|b| b.is_ascii_digit()) || s.starts_with("20"))
        .collect();
    format!("{method} /{}", kept.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(method: &str, target: &str, service: &str) -> Request {
        let mut r = Request::new(method, target, Vec::new());
        r.headers.push((
            "Authorization".into(),
            format!("AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"),
        ));
        r
    }

    #[test]
    fn services_and_operations_are_named_as_aws_names_them() {
        let cases = [
            (signed("PUT", "/out/results/a.json?x-id=PutObject", "s3"), "s3", "PutObject"),
            (signed("GET", "/out?list-type=2&prefix=a", "s3"), "s3", "ListObjectsV2"),
            (signed("GET", "/?x-id=ListBuckets", "s3"), "s3", "ListBuckets"),
            (signed("GET", "/out?versions&max-keys=1000", "s3"), "s3", "ListObjectVersions"),
            (signed("HEAD", "/out/k", "s3"), "s3", "HeadObject"),
            (signed("POST", "/out?delete", "s3"), "s3", "DeleteObjects"),
            (signed("POST", "/v1/submitjob", "batch"), "batch", "SubmitJob"),
            (signed("POST", "/v1/describejobs", "batch"), "batch", "DescribeJobs"),
            (
                signed("POST", "/2015-02-01/access-points", "elasticfilesystem"),
                "elasticfilesystem",
                "CreateAccessPoint",
            ),
            (
                signed("DELETE", "/2015-02-01/file-systems/fs-123", "elasticfilesystem"),
                "elasticfilesystem",
                "DeleteFileSystem",
            ),
        ];
        for (request, want_service, want_op) in cases {
            let s = service(&request);
            assert_eq!(
                (s.as_str(), operation(&request, &s).as_str()),
                (want_service, want_op),
                "{}",
                request.target
            );
        }
        let mut sfn = signed("POST", "/", "states");
        sfn.headers.push(("X-Amz-Target".into(), "AWSStepFunctions.StartExecution".into()));
        assert_eq!(operation(&sfn, "states"), "StartExecution");
        let mut iam = signed("POST", "/", "iam");
        iam.body = b"Action=CreateRole&Version=2010-05-08".to_vec();
        assert_eq!(operation(&iam, "iam"), "CreateRole");
        let runtime = Request::new("GET", "/2018-06-01/runtime/invocation/next", Vec::new());
        assert_eq!(service(&runtime), "unsigned");
        assert_eq!(operation(&runtime, "unsigned"), "GET /2018-06-01/runtime/invocation/next");
    }
}
