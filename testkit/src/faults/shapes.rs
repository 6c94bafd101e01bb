//! The errors a fault answers with, in each protocol's own shape, so the
//! SDKs classify them as the real ones (a throttle as throttling, a 5xx as
//! transient) and the code under test sees what AWS would send.

use crate::http::{Request, Response};

/// How a service's errors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// S3: `<Error><Code>` XML.
    RestXml,
    /// EC2's query dialect: `<Response><Errors><Error>`.
    Ec2Query,
    /// IAM, STS, SNS, CloudWatch: `<ErrorResponse><Error>`.
    Query,
    /// `X-Amz-Target` services (Step Functions, Secrets Manager, Logs):
    /// `__type` in the body.
    Json,
    /// Batch, EFS, Lambda: `x-amzn-ErrorType` and a JSON body.
    RestJson,
}

fn protocol(request: &Request, service: &str) -> Protocol {
    if service == "s3" {
        Protocol::RestXml
    } else if service == "ec2" {
        Protocol::Ec2Query
    } else if request.header("x-amz-target").is_some() {
        Protocol::Json
    } else if request.target.contains("Action=") || request.body.starts_with(b"Action=") {
        Protocol::Query
    } else {
        Protocol::RestJson
    }
}

/// The service's throttling error, as it sends it.
pub fn throttle(request: &Request, service: &str) -> Response {
    let (status, code, message) = match (protocol(request, service), service) {
        (Protocol::RestXml, _) => (503, "SlowDown", "Please reduce your request rate."),
        (Protocol::Ec2Query, _) => (503, "RequestLimitExceeded", "Request limit exceeded."),
        (Protocol::Query, _) => (400, "Throttling", "Rate exceeded"),
        (Protocol::Json, _) => (400, "ThrottlingException", "Rate exceeded"),
        // Batch's unmodelled 429, and Lambda's modelled one.
        (Protocol::RestJson, "batch" | "lambda") => (429, "TooManyRequestsException", "Too Many Requests"),
        (Protocol::RestJson, "elasticfilesystem") => (429, "ThrottlingException", "Rate exceeded"),
        (Protocol::RestJson, _) => (429, "ThrottlingException", "Rate exceeded"),
    };
    error(request, service, status, code, message)
}

/// A 500 or a 503 in the service's shape.
pub fn server_error(request: &Request, service: &str, unavailable: bool) -> Response {
    let protocol = protocol(request, service);
    let (status, code, message) = match (unavailable, protocol, service) {
        (true, Protocol::RestXml, _) => (503, "ServiceUnavailable", "Service is unable to handle request."),
        (false, Protocol::RestXml, _) => {
            (500, "InternalError", "We encountered an internal error. Please try again.")
        }
        (true, Protocol::Ec2Query, _) => (503, "Unavailable", "The server is overloaded."),
        (false, Protocol::Ec2Query, _) => (500, "InternalError", "An internal error has occurred."),
        (true, _, _) => (503, "ServiceUnavailable", "Service Unavailable"),
        (false, Protocol::RestJson, "batch") => (500, "ServerException", "Internal Server Error"),
        (false, Protocol::RestJson, "elasticfilesystem") => {
            (500, "InternalServerError", "Internal Server Error")
        }
        (false, _, _) => {
            (500, "InternalFailure", "The request processing has failed because of an unknown error.")
        }
    };
    error(request, service, status, code, message)
}

const REQUEST_ID: &str = "fault-00000000-0000-0000-0000-000000000000";

fn error(request: &Request, service: &str, status: u16, code: &str, message: &str) -> Response {
    let response = match protocol(request, service) {
        // A HEAD answer has no body: the SDK reads the status alone.
        _ if request.method == "HEAD" => Response::new(status, Vec::new()),
        Protocol::RestXml => xml(
            status,
            format!(
                "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{REQUEST_ID}</RequestId></Error>"
            ),
        ),
        Protocol::Ec2Query => xml(
            status,
            format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{REQUEST_ID}</RequestID></Response>"
            ),
        ),
        Protocol::Query => xml(
            status,
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{REQUEST_ID}</RequestId></ErrorResponse>",
                if status >= 500 { "Receiver" } else { "Sender" }
            ),
        ),
        Protocol::Json => {
            Response::new(status, serde_json::json!({"__type": code, "message": message}).to_string())
                .with_header("Content-Type", "application/x-amz-json-1.1")
        }
        Protocol::RestJson => Response::aws_error(status, code, message),
    };
    response.with_header("x-amzn-RequestId", REQUEST_ID).with_header("x-amz-request-id", REQUEST_ID)
}

fn xml(status: u16, body: String) -> Response {
    Response::new(status, format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"))
        .with_header("Content-Type", "application/xml")
}
