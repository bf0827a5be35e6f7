//! An AutoDiscover service double for tests ([MS-OCDISCWS] 3.1.5.2 Root, 3.1.5.3 User):
//! routes from a URL (scheme, host and path; the query is ignored) to a fixed answer, in
//! one process and without sockets. Requests to URLs without a route get no answer (the
//! client sees a timeout, as for a name that does not resolve).

use super::autodiscover::ACCEPT;
use super::oauth::{HttpRequest, HttpResponse};

/// What a route answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200 with this AutoDiscover document.
    Document(String),
    /// This status and an empty body (404 unknown user, 500, ...).
    Status(u16),
    /// No answer at all.
    Silent,
}

/// The double.
#[derive(Debug, Default, Clone)]
pub struct AutodiscoverServer {
    routes: Vec<(String, Reply, bool)>,
    /// The Authorization value User routes require (3.1.5.3: 401 without valid
    /// credentials), when set.
    pub credentials: Option<String>,
    /// Every URL asked, in order.
    pub log: Vec<String>,
}

fn key(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl AutodiscoverServer {
    pub fn new() -> AutodiscoverServer {
        AutodiscoverServer::default()
    }

    /// Answers GETs of `url` (query ignored) with `reply`.
    pub fn route(&mut self, url: &str, reply: Reply) -> &mut Self {
        self.routes.push((key(url).to_string(), reply, false));
        self
    }

    /// Like [`AutodiscoverServer::route`], for a User resource: 401 without the
    /// configured credentials.
    pub fn user_route(&mut self, url: &str, reply: Reply) -> &mut Self {
        self.routes.push((key(url).to_string(), reply, true));
        self
    }

    /// The answer to `req`, `None` for no answer.
    pub fn handle(&mut self, req: &HttpRequest) -> Option<HttpResponse> {
        self.log.push(req.url.clone());
        let (_, reply, user) = self.routes.iter().find(|(k, _, _)| k == key(&req.url))?;
        let status = |s: u16| HttpResponse {
            status: s,
            headers: Vec::new(),
            body: Vec::new(),
        };
        if req.method != "GET" {
            return Some(status(405));
        }
        if req.header("Accept") != Some(ACCEPT) {
            return Some(status(406));
        }
        if *user {
            if let Some(c) = &self.credentials {
                if req.header("Authorization") != Some(c.as_str()) {
                    return Some(status(401));
                }
            }
        }
        match reply {
            Reply::Document(d) => Some(HttpResponse {
                status: 200,
                headers: vec![("Content-Type".into(), ACCEPT.into())],
                body: d.clone().into_bytes(),
            }),
            Reply::Status(s) => Some(status(*s)),
            Reply::Silent => None,
        }
    }
}
