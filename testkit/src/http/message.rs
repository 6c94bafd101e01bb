//! The request a handler sees and the response it gives back.

/// One request, as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// Decoded (chunked bodies joined).
    pub body: Vec<u8>,
}

impl Request {
    /// A request as a handler would receive it (for handler unit tests).
    pub fn new(method: &str, target: &str, body: impl Into<Vec<u8>>) -> Self {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The client asked to close the connection after this request.
    pub fn closes_connection(&self) -> bool {
        self.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// One response; the server adds Content-Length.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response { status, headers: Vec::new(), body: body.into() }
    }

    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Response::new(status, body.to_string()).with_header("Content-Type", "application/json")
    }

    /// A success of an AWS JSON-protocol service (Batch, Lambda...).
    pub fn aws_json(body: &serde_json::Value) -> Self {
        Response::json(200, body)
    }

    /// An error of an AWS JSON-protocol service: the SDKs read the error
    /// code from `x-amzn-ErrorType` and the text from `message`.
    pub fn aws_error(status: u16, error_type: &str, message: &str) -> Self {
        Response::json(status, &serde_json::json!({ "message": message }))
            .with_header("x-amzn-ErrorType", error_type)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}
