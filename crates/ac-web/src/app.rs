//! The application: routing, authentication and authorization, and every page.
//!
//! [`App::handle`] turns one parsed request into a response; it never touches a socket (the
//! server in [`crate::server`] does). Configuration changes go through `ac_cfg`: validation
//! with line-numbered diagnostics, the model check of manual 8.7.2, delta/merge and an atomic
//! write of `phone.cfg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ac_cfg::companion::{self, Contact, KeyFileKind};
use ac_cfg::crypto::{self, Keys, TdesKey};
use ac_cfg::delta;
use ac_cfg::document::Document;
use ac_cfg::schema::{Lookup, ParamDef, ParamType, Schema};
use ac_cfg::validate::{self, Diagnostic, Severity};
use ac_cfg::Model;
use ac_prov::firmware::{Installer, Policy, SlotState, MAX_HEADER_LEN};

use crate::auth::{self, Credentials, Role, Session, Sessions, Throttle};
use crate::form::Form;
use crate::html::{self, csrf_field, esc, note, Tab, Viewer};
use crate::http::{Head, Response};
use crate::phone::{CallKind, PhoneModel, SignIn, SignInState};

/// The session cookie.
pub const SESSION_COOKIE: &str = "acw_session";
/// The pre-login CSRF cookie (double submit on the login form).
pub const LOGIN_COOKIE: &str = "acw_login";
/// What a password value is replaced with in every page and download.
pub const MASK: &str = "********";

/// Keys the Users page owns; the generated pages leave them out.
const ACCOUNT_KEYS: [&str; 4] = [
    "system/user_name",
    "system/password",
    "system/web_user_name",
    "system/web_user_password",
];

/// Settings of an [`App`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The configuration directory (`phone.cfg`, `credentials`, `directory.csv`, `tones/`).
    pub dir: PathBuf,
    /// Largest request body, except firmware uploads.
    pub max_body: u64,
    /// Largest firmware upload.
    pub max_firmware: u64,
    /// The server has a certificate: HTTPS works, `security/web/https_only` may be enabled.
    pub tls_available: bool,
}

impl Settings {
    pub fn new(dir: &Path) -> Settings {
        Settings {
            dir: dir.to_path_buf(),
            max_body: 1 << 20,
            max_firmware: 64 << 20,
            tls_available: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

struct State {
    sessions: Sessions,
    throttle: Throttle,
    creds: Credentials,
}

/// One request as the application sees it.
pub struct Request<'a> {
    pub head: &'a Head,
    pub body: &'a [u8],
    pub peer: IpAddr,
    pub tls: bool,
    pub now: Instant,
}

/// The web interface of one phone.
pub struct App {
    settings: Settings,
    phone: Box<dyn PhoneModel>,
    state: Mutex<State>,
    /// Serializes read-modify-write of the configuration files.
    files: Mutex<()>,
    log: Mutex<Box<dyn std::io::Write + Send>>,
}

fn cfg_err(d: &Diagnostic) -> String {
    format!("line {}, column {}: {}", d.line, d.column, d.message)
}

/// Top-level segment of a key, the group its page is in.
fn group_of(key: &str) -> &str {
    match key.split_once('/') {
        Some((g, _)) => g,
        None => "general",
    }
}

fn group_title(g: &str) -> String {
    match g {
        "network" => "Network Connections".into(),
        "voip" => "Voice over IP".into(),
        "system" => "System".into(),
        "lync" => "Skype for Business".into(),
        "provisioning" => "Provisioning".into(),
        "security" => "Security".into(),
        "personal_settings" => "Personal Settings".into(),
        "management" => "Remote Management".into(),
        "general" => "General".into(),
        other => {
            let mut t = other.replace('_', " ");
            if let Some(f) = t.get(..1) {
                let up = f.to_uppercase();
                t.replace_range(..1, &up);
            }
            t
        }
    }
}

/// Which concrete keys a parameter page shows.
#[derive(Clone, Copy)]
enum Filter<'a> {
    Group(&'a str),
    Prefix(&'a str),
    Exact(&'a str),
    Keys(KeyFileKind),
}

impl Filter<'_> {
    fn matches(&self, key: &str) -> bool {
        if ACCOUNT_KEYS.contains(&key) {
            return false;
        }
        let is_key_param = companion::in_key_file(KeyFileKind::Function, key)
            || companion::in_key_file(KeyFileKind::Programmable, key);
        match self {
            Filter::Group(g) => group_of(key) == *g && !is_key_param,
            Filter::Prefix(p) => key.starts_with(p),
            Filter::Exact(k) => key == *k,
            Filter::Keys(kind) => companion::in_key_file(*kind, key),
        }
    }
}

fn valid_host(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    !s.is_empty()
        && s.len() <= 253
        && !s.starts_with(['-', '.'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Checks a ring tone: a WAV file in one of the formats of manual 3.2.6.2 (A-law or mu-law
/// 8 kHz 8-bit, or PCM 16 kHz 16-bit, mono).
pub fn check_wav(data: &[u8]) -> Result<(), String> {
    if data.len() < 12 || &data[..4] != b"RIFF" || &data[8..12] != b"WAVE" {
        return Err("not a WAV (RIFF/WAVE) file".into());
    }
    let mut p = 12;
    while p + 8 <= data.len() {
        let id = &data[p..p + 4];
        let len = u32::from_le_bytes([data[p + 4], data[p + 5], data[p + 6], data[p + 7]]) as usize;
        let body = data.get(p + 8..p + 8 + len.min(data.len())).unwrap_or(&[]);
        if id == b"fmt " {
            if body.len() < 16 {
                return Err("WAV fmt chunk too short".into());
            }
            let fmt = u16::from_le_bytes([body[0], body[1]]);
            let ch = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            let bits = u16::from_le_bytes([body[14], body[15]]);
            return match (fmt, ch, rate, bits) {
                (6 | 7, 1, 8000, 8) | (1, 1, 16000, 16) => Ok(()),
                _ => Err(format!(
                    "WAV format {fmt}, {ch} channel(s), {rate} Hz, {bits} bit: the phone plays A-law/mu-law 8 kHz 8-bit or PCM 16 kHz 16-bit mono"
                )),
            };
        }
        p = p.saturating_add(8).saturating_add(len + (len & 1));
    }
    Err("WAV file without a fmt chunk".into())
}

impl App {
    /// Opens the configuration directory (creating `credentials` with the factory password
    /// if missing) over a phone.
    pub fn new(
        settings: Settings,
        phone: Box<dyn PhoneModel>,
        log: Box<dyn std::io::Write + Send>,
    ) -> Result<App, AppError> {
        std::fs::create_dir_all(&settings.dir)
            .map_err(|e| AppError::Io(settings.dir.clone(), e))?;
        let creds = Credentials::load_or_init(&settings.dir.join("credentials"))?;
        Ok(App {
            settings,
            phone,
            state: Mutex::new(State {
                sessions: Sessions::default(),
                throttle: Throttle::default(),
                creds,
            }),
            files: Mutex::new(()),
            log: Mutex::new(log),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one line to the log. Callers never pass a password or a form body.
    pub fn log(&self, line: &str) {
        let mut l = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(l, "{line}");
        let _ = l.flush();
    }

    pub fn model(&self) -> Model {
        self.phone.model()
    }

    fn cfg_path(&self) -> PathBuf {
        self.settings.dir.join("phone.cfg")
    }

    /// The stored configuration (explicit settings).
    fn stored(&self) -> Document<'static> {
        let text = std::fs::read(self.cfg_path()).unwrap_or_default();
        Document::parse_bytes(&text)
            .map(|d| d.into_owned())
            .unwrap_or_else(|_| Document::new())
    }

    fn write_cfg(&self, doc: &Document<'_>) -> Result<(), String> {
        ac_cfg::fsutil::atomic_write(&self.cfg_path(), doc.emit().as_bytes())
            .map_err(|e| format!("cannot write the configuration: {e}"))
    }

    /// The value in effect of a key.
    fn value(&self, doc: &Document<'_>, key: &str) -> Option<String> {
        if let Some(v) = doc.get(key) {
            return Some(v.to_string());
        }
        match Schema::get().lookup(key, Some(self.model())) {
            Lookup::Found(def, idx) => Some(
                def.default_for(Some(self.model()), idx.as_slice())
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// Whether plain HTTP is refused (`security/web/https_only`, manual 3.4.6).
    pub fn https_only(&self) -> bool {
        self.settings.tls_available
            && self
                .value(&self.stored(), "security/web/https_only")
                .as_deref()
                == Some("1")
    }

    /// The largest body accepted for a request (firmware uploads get more).
    pub fn body_limit(&self, head: &Head) -> u64 {
        if head.raw_path() == "/mgmt/firmware" && head.method == "POST" {
            self.settings.max_firmware
        } else {
            self.settings.max_body
        }
    }

    /// Handles one request; logs it (method, path without query, status, user).
    pub fn handle(&self, req: &Request<'_>) -> Response {
        let (resp, user) = self.route(req);
        let resp = secure_headers(resp);
        self.log(&format!(
            "{} {} {} {} {}",
            req.peer,
            user.as_deref().unwrap_or("-"),
            req.head.method,
            esc_log(req.head.raw_path()),
            resp.status
        ));
        resp
    }

    fn route(&self, req: &Request<'_>) -> (Response, Option<String>) {
        let path = match req.head.path() {
            Ok(p) => p,
            Err(e) => return (Response::text(e.status(), e.to_string()), None),
        };
        let method = req.head.method.as_str();
        match (method, path.as_str()) {
            ("GET" | "HEAD", "/static/app.css") => {
                return (
                    Response::new(200, "text/css; charset=utf-8", html::CSS),
                    None,
                )
            }
            ("GET" | "HEAD", "/static/app.js") => {
                return (
                    Response::new(200, "text/javascript; charset=utf-8", html::JS),
                    None,
                )
            }
            ("GET" | "HEAD", "/favicon.ico") => return (Response::text(404, "no icon"), None),
            ("GET" | "HEAD", "/login") => return (self.login_page(req, None, 200), None),
            ("POST", "/login") => return self.login(req),
            _ => {}
        }
        if !matches!(method, "GET" | "HEAD" | "POST") {
            return (Response::text(405, "method not allowed"), None);
        }
        // Everything else needs a session.
        let token = req.head.cookie(SESSION_COOKIE);
        let sess = token
            .as_deref()
            .and_then(|t| self.state().sessions.get(t, req.now));
        let (Some(sess), Some(token)) = (sess, token) else {
            return if method == "POST" {
                (Response::text(401, "log in first"), None)
            } else {
                (Response::redirect("/login"), None)
            };
        };
        let user = Some(sess.user.clone());
        let form = if method == "POST" {
            // Cross-site requests are refused twice: by origin, and by the CSRF token.
            if let Some(origin) = req.head.header("origin") {
                let host = req.head.header("host").unwrap_or("");
                let scheme = if req.tls { "https" } else { "http" };
                if origin != format!("{scheme}://{host}") {
                    return (Response::text(403, "cross-origin request refused"), user);
                }
            }
            let form = match Form::parse(req.head.header("content-type"), req.body) {
                Ok(f) => f,
                Err(e) => return (Response::text(400, e.to_string()), user),
            };
            let ok = form
                .get("csrf")
                .is_some_and(|t| auth::tokens_equal(t, &sess.csrf));
            if !ok {
                return (
                    Response::text(403, "missing or wrong CSRF token; reload the page"),
                    user,
                );
            }
            Some(form)
        } else {
            None
        };
        if sess.role != Role::Admin && !user_may(&path) {
            return (
                Response::html(
                    403,
                    html::bare(
                        "Forbidden",
                        "<p>This page needs the administrator account.</p>",
                    ),
                ),
                user,
            );
        }
        let ctx = Ctx {
            app: self,
            req,
            sess: &sess,
            token: &token,
            query: req
                .head
                .query()
                .and_then(|q| crate::form::parse_urlencoded(q.as_bytes()).ok())
                .unwrap_or_default(),
        };
        let resp = match form {
            Some(f) => ctx.post(&path, &f),
            None => ctx.get(&path),
        };
        (resp, user)
    }

    fn login_page(&self, req: &Request<'_>, error: Option<&str>, status: u16) -> Response {
        // Keep the browser's token if it has one: another tab or a background request
        // (favicon) must not invalidate the form already on screen.
        let existing = req
            .head
            .cookie(LOGIN_COOKIE)
            .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()));
        let pre = match existing {
            Some(t) => t,
            None => match auth::random_hex(32) {
                Ok(t) => t,
                Err(e) => return Response::text(500, e.to_string()),
            },
        };
        let mut body = String::new();
        if let Some(e) = error {
            body.push_str(&note("bad", e));
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"pre\" value=\"{pre}\">\
             <label>User name<br><input name=\"username\" id=\"username\" autocomplete=\"username\"></label>\
             <label>Password<br><input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\"></label>\
             <p><button id=\"login\">Login</button></p></form>"
        );
        Response::html(
            status,
            html::bare(&format!("{} Web Login", self.model()), &body),
        )
        .with_header(
            "Set-Cookie",
            format!(
                "{LOGIN_COOKIE}={pre}; Path=/login; HttpOnly; SameSite=Strict{}",
                if req.tls { "; Secure" } else { "" }
            ),
        )
    }

    fn login(&self, req: &Request<'_>) -> (Response, Option<String>) {
        let form = match Form::parse(req.head.header("content-type"), req.body) {
            Ok(f) => f,
            Err(e) => return (Response::text(400, e.to_string()), None),
        };
        // Login CSRF: the form's token must equal the cookie set with the form.
        let pre_ok = match (form.get("pre"), req.head.cookie(LOGIN_COOKIE)) {
            (Some(a), Some(b)) => !a.is_empty() && auth::tokens_equal(a, &b),
            _ => false,
        };
        if !pre_ok {
            return (
                self.login_page(req, Some("The login form expired; try again."), 403),
                None,
            );
        }
        if let Err(wait) = self.state().throttle.check(req.peer, req.now) {
            self.log(&format!("{} login refused: throttled", req.peer));
            let mut r = self.login_page(
                req,
                Some(&format!(
                    "Too many failed logins. Wait {} s before trying again.",
                    wait.as_millis().div_ceil(1000).max(1)
                )),
                429,
            );
            let secs = wait.as_millis().div_ceil(1000).max(1);
            r.headers.push(("Retry-After".into(), secs.to_string()));
            return (r, None);
        }
        let username = form.get("username").unwrap_or("");
        let password = form.get("password").unwrap_or("");
        let doc = self.stored();
        let admin_name = self.value(&doc, "system/user_name").unwrap_or_default();
        let user_name = self.value(&doc, "system/web_user_name").unwrap_or_default();
        let role = if !username.is_empty() && username == admin_name {
            Some(Role::Admin)
        } else if !username.is_empty() && username == user_name {
            Some(Role::User)
        } else {
            None
        };
        let ok = role.is_some_and(|r| self.state().creds.verify(r, password));
        let (Some(role), true) = (role, ok) else {
            self.state().throttle.failure(req.peer, req.now);
            // The attempted name is not logged: users type passwords into it by mistake.
            self.log(&format!("{} login failed", req.peer));
            return (
                self.login_page(req, Some("Wrong user name or password."), 401),
                None,
            );
        };
        let default_pw = password == auth::DEFAULT_PASSWORD;
        let token = {
            let mut st = self.state();
            st.throttle.success(req.peer);
            st.sessions.create(role, username, default_pw, req.now)
        };
        let token = match token {
            Ok(t) => t,
            Err(e) => return (Response::text(500, e.to_string()), None),
        };
        self.log(&format!("{} login ok ({})", req.peer, role.name()));
        let r = Response::redirect("/").with_header(
            "Set-Cookie",
            format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
                if req.tls { "; Secure" } else { "" }
            ),
        );
        (r, Some(username.to_string()))
    }
}

fn esc_log(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() || c == ' ' { '_' } else { c })
        .collect()
}

fn secure_headers(mut r: Response) -> Response {
    for (n, v) in [
        (
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        // `same-origin`: with `no-referrer` browsers send `Origin: null` on form posts.
        ("Referrer-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ] {
        r.headers.push((n.into(), v.into()));
    }
    r
}

/// Pages the user account (not admin) may open.
fn user_may(path: &str) -> bool {
    path == "/"
        || path == "/config"
        || path == "/logout"
        || path.starts_with("/status/")
        || path.starts_with("/config/directory")
        || path.starts_with("/config/function-keys")
        || path.starts_with("/config/programmable-keys")
        || path.starts_with("/config/tones")
        || path == "/config/sign-in"
}

struct Ctx<'a> {
    app: &'a App,
    req: &'a Request<'a>,
    sess: &'a Session,
    token: &'a str,
    query: Vec<(String, String)>,
}

/// The outcome of validating a set of edits.
type FieldErrors = BTreeMap<String, String>;

impl Ctx<'_> {
    fn admin(&self) -> bool {
        self.sess.role == Role::Admin
    }

    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn model(&self) -> Model {
        self.app.model()
    }

    fn groups(&self) -> Vec<String> {
        let mut g: Vec<String> = Vec::new();
        for def in Schema::get().params_for(self.model()) {
            let key = def.concrete_key(&[]);
            if !Filter::Group(group_of(&key)).matches(&key) {
                continue;
            }
            let name = group_of(&key).to_string();
            if !g.contains(&name) {
                g.push(name);
            }
        }
        g
    }

    fn has_keys(&self, kind: KeyFileKind) -> bool {
        Schema::get().params_for(self.model()).any(|d| {
            d.expand()
                .iter()
                .any(|(k, _)| companion::in_key_file(kind, k))
        })
    }

    fn menu(&self, tab: Tab) -> Vec<(String, String)> {
        let m = |h: &str, l: &str| (h.to_string(), l.to_string());
        match tab {
            Tab::Configuration => {
                let mut v = Vec::new();
                if self.admin() {
                    for g in self.groups() {
                        v.push((format!("/config/{g}"), group_title(&g)));
                    }
                }
                if self.has_keys(KeyFileKind::Function) {
                    v.push(m("/config/function-keys", "Function Keys"));
                }
                if self.has_keys(KeyFileKind::Programmable) {
                    v.push(m("/config/programmable-keys", "Programmable Keys"));
                }
                v.push(m("/config/directory", "Personal Directory"));
                v.push(m("/config/tones", "Tones"));
                v.push(m("/config/sign-in", "Sign in"));
                v
            }
            Tab::Management => vec![
                m("/mgmt/config", "Configuration File"),
                m("/mgmt/firmware", "Manual Firmware Upgrade"),
                m("/mgmt/provisioning", "Automatic Provisioning"),
                m("/mgmt/users", "Users"),
                m("/mgmt/restart", "Restart"),
                m("/mgmt/defaults", "Restore Defaults"),
                m("/mgmt/telnet", "Telnet"),
            ],
            Tab::Status => vec![
                m("/status/system", "System Information"),
                m("/status/network", "Network Status"),
                m("/status/voip", "VoIP Status"),
                m("/status/calls", "Call History"),
                m("/status/logging", "Logging"),
                m("/status/tracing", "Tracing"),
                m("/status/monitoring", "Monitoring"),
            ],
        }
    }

    fn page(&self, tab: Tab, active: &str, title: &str, body: &str) -> Response {
        self.page_status(200, tab, active, title, body)
    }

    fn page_status(
        &self,
        status: u16,
        tab: Tab,
        active: &str,
        title: &str,
        body: &str,
    ) -> Response {
        let model = self.model().to_string();
        let v = Viewer {
            user: &self.sess.user,
            admin: self.admin(),
            csrf: &self.sess.csrf,
            default_password: self.sess.default_password,
            model: &model,
        };
        Response::html(
            status,
            html::frame(&v, tab, &self.menu(tab), active, title, body),
        )
    }

    fn csrf(&self) -> String {
        csrf_field(&self.sess.csrf)
    }

    fn get(&self, path: &str) -> Response {
        if let Some(g) = path.strip_prefix("/config/") {
            if !g.contains('/') && self.groups().iter().any(|x| x == g) {
                return self.param_page(
                    Tab::Configuration,
                    path,
                    &group_title(g),
                    Filter::Group(g),
                    &FieldErrors::new(),
                    &[],
                    "",
                );
            }
        }
        match path {
            "/" | "/status/system" => self.system_info(),
            "/config" => {
                let first = self
                    .menu(Tab::Configuration)
                    .first()
                    .map(|(h, _)| h.clone())
                    .unwrap_or_else(|| "/config/directory".into());
                Response::redirect(&first)
            }
            "/config/function-keys" => self.keys_page(KeyFileKind::Function, ""),
            "/config/programmable-keys" => self.keys_page(KeyFileKind::Programmable, ""),
            "/config/function-keys/save" => self.save_keys(KeyFileKind::Function),
            "/config/programmable-keys/save" => self.save_keys(KeyFileKind::Programmable),
            "/config/directory" => self.directory_page(""),
            "/config/directory/save" => {
                let list = self.app.directory();
                Response::attachment(
                    "text/csv; charset=utf-8",
                    "directory.csv",
                    companion::emit_directory(&list),
                )
            }
            "/config/tones" => self.tones_page(""),
            "/config/sign-in" => self.sign_in_page(""),
            "/mgmt/config" => self.config_file_page(""),
            "/mgmt/config/download" => self.config_download(),
            "/mgmt/firmware" => self.firmware_page(""),
            "/mgmt/provisioning" => self.param_page(
                Tab::Management,
                path,
                "Automatic Provisioning",
                Filter::Prefix("provisioning/"),
                &FieldErrors::new(),
                &[],
                &self.check_now_form(),
            ),
            "/mgmt/users" => self.users_page(""),
            "/mgmt/restart" => self.confirm_page(
                "/mgmt/restart",
                "Restart",
                "Restart the phone now?",
                "Restart",
            ),
            "/mgmt/defaults" => self.confirm_page(
                "/mgmt/defaults",
                "Restore Defaults",
                "Restore the factory configuration? Every setting, both passwords, the directory and the tones are reset, and the phone restarts.",
                "Restore Defaults",
            ),
            "/mgmt/telnet" => self.param_page(
                Tab::Management,
                path,
                "Telnet",
                Filter::Exact("management/telnet/enabled"),
                &FieldErrors::new(),
                &[],
                "<p class=\"warn\">Opening Telnet to an external network is strongly inadvisable (manual 5.5.1).</p>",
            ),
            "/status/network" => self.rows_page(
                "/status/network",
                "Network Status",
                &self.app.phone.network_status(),
            ),
            "/status/voip" => self.voip_page(),
            "/status/calls" => self.calls_page(),
            "/status/logging" => self.param_page(
                Tab::Status,
                path,
                "Logging",
                Filter::Prefix("system/syslog/"),
                &FieldErrors::new(),
                &[],
                "",
            ),
            "/status/tracing" => self.tracing_page(""),
            "/status/tracing/save" => Response::attachment(
                "text/plain; charset=utf-8",
                "trace.log",
                self.app.phone.trace_log(),
            ),
            "/status/monitoring" => self.monitoring_page("", "127.0.0.1", 4),
            _ => Response::html(404, html::bare("Not found", "<p>No such page.</p>")),
        }
    }

    fn post(&self, path: &str, form: &Form) -> Response {
        if let Some(g) = path.strip_prefix("/config/") {
            if !g.contains('/') && self.groups().iter().any(|x| x == g) {
                return self.save_params(
                    Tab::Configuration,
                    path,
                    &group_title(g),
                    Filter::Group(g),
                    form,
                    "",
                );
            }
        }
        match path {
            "/logout" => {
                self.app.state().sessions.remove(self.token);
                Response::redirect("/login").with_header(
                    "Set-Cookie",
                    format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
                )
            }
            "/config/function-keys" => self.save_params(
                Tab::Configuration,
                path,
                "Function Keys",
                Filter::Keys(KeyFileKind::Function),
                form,
                "",
            ),
            "/config/programmable-keys" => self.save_params(
                Tab::Configuration,
                path,
                "Programmable Keys",
                Filter::Keys(KeyFileKind::Programmable),
                form,
                "",
            ),
            "/config/function-keys/load" => self.load_keys(KeyFileKind::Function, form),
            "/config/programmable-keys/load" => self.load_keys(KeyFileKind::Programmable, form),
            "/config/directory" => self.directory_post(form),
            "/config/tones" => self.tones_post(form),
            "/config/sign-in" => self.sign_in_post(form),
            "/mgmt/config/load" => self.config_load(form),
            "/mgmt/firmware" => self.firmware_post(form),
            "/mgmt/provisioning" => self.save_params(
                Tab::Management,
                path,
                "Automatic Provisioning",
                Filter::Prefix("provisioning/"),
                form,
                &self.check_now_form(),
            ),
            "/mgmt/provisioning/check" => {
                let msg = match self.app.phone.check_now() {
                    Ok(m) => note("ok", &format!("Check Now: {m}")),
                    Err(e) => note("bad", &format!("Check Now failed: {e}")),
                };
                self.param_page(
                    Tab::Management,
                    "/mgmt/provisioning",
                    "Automatic Provisioning",
                    Filter::Prefix("provisioning/"),
                    &FieldErrors::new(),
                    &[],
                    &format!("{msg}{}", self.check_now_form()),
                )
            }
            "/mgmt/users" => self.users_post(form),
            "/mgmt/restart" => match self.app.phone.restart() {
                Ok(()) => self.page(
                    Tab::Management,
                    "/mgmt/restart",
                    "Restart",
                    &note("ok", "The phone is restarting."),
                ),
                Err(e) => self.page(
                    Tab::Management,
                    "/mgmt/restart",
                    "Restart",
                    &note("bad", &e.to_string()),
                ),
            },
            "/mgmt/defaults" => self.restore_defaults(),
            "/mgmt/telnet" => self.save_params(
                Tab::Management,
                path,
                "Telnet",
                Filter::Exact("management/telnet/enabled"),
                form,
                "",
            ),
            "/status/logging" => self.save_params(
                Tab::Status,
                path,
                "Logging",
                Filter::Prefix("system/syslog/"),
                form,
                "",
            ),
            "/status/calls/delete" => {
                for (n, v) in &form.fields {
                    if n == "id" {
                        if let Ok(id) = v.parse() {
                            let _ = self.app.phone.delete_call(id);
                        }
                    }
                }
                Response::redirect("/status/calls")
            }
            "/status/tracing/clean" => match self.app.phone.clear_trace() {
                Ok(()) => self.tracing_page(&note("ok", "The trace log was cleaned.")),
                Err(e) => self.tracing_page(&note("bad", &e.to_string())),
            },
            "/status/monitoring" => self.monitoring_post(form),
            _ => Response::html(404, html::bare("Not found", "<p>No such page.</p>")),
        }
    }

    // ---- generated parameter pages -------------------------------------------------

    /// Every (concrete key, definition) a filter selects, in schema order.
    fn keys_for(&self, filter: Filter<'_>) -> Vec<(String, &'static ParamDef, Vec<u32>)> {
        let mut out = Vec::new();
        for def in Schema::get().params_for(self.model()) {
            for (key, idx) in def.expand() {
                if filter.matches(&key) {
                    out.push((key, def, idx.as_slice().to_vec()));
                }
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn param_page(
        &self,
        tab: Tab,
        action: &str,
        title: &str,
        filter: Filter<'_>,
        errors: &FieldErrors,
        typed: &[(String, String)],
        extra: &str,
    ) -> Response {
        let doc = self.app.stored();
        let model = self.model();
        let mut body = String::new();
        if let Some(n) = self.q("saved") {
            body.push_str(&note("ok", &format!("Saved: {n} parameter(s) changed.")));
        }
        if !errors.is_empty() {
            body.push_str(&note(
                "bad",
                &format!(
                    "Nothing was saved: {} value(s) are not valid.",
                    errors.len()
                ),
            ));
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{}\" id=\"params\">{}",
            esc(action),
            self.csrf()
        );
        let mut current_set = String::new();
        let mut open = false;
        // One fieldset per two-segment prefix, in order of first appearance.
        let mut keys = self.keys_for(filter);
        let mut order: Vec<String> = Vec::new();
        for (k, _, _) in &keys {
            let set = k.split('/').take(2).collect::<Vec<_>>().join("/");
            if !order.contains(&set) {
                order.push(set);
            }
        }
        keys.sort_by_key(|(k, _, _)| {
            let set = k.split('/').take(2).collect::<Vec<_>>().join("/");
            order.iter().position(|o| *o == set)
        });
        for (key, def, idx) in keys {
            let set: String = key.split('/').take(2).collect::<Vec<_>>().join("/");
            if set != current_set {
                if open {
                    body.push_str("</fieldset>");
                }
                let _ = write!(body, "<fieldset><legend>{}</legend>", esc(&set));
                current_set = set;
                open = true;
            }
            let default = def.default_for(Some(model), &idx);
            let current = doc.get(&key).unwrap_or(default).to_string();
            let shown = typed
                .iter()
                .find(|(k, _)| k == &key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| current.clone());
            let modified = current != default;
            let _ = write!(
                body,
                "<div class=\"row{}\"><label class=\"k\" for=\"f-{k}\">{k}</label><span>",
                if modified { " mod" } else { "" },
                k = esc(&key)
            );
            body.push_str(&field_input(def, &key, &shown, model));
            let _ = write!(body, "</span><span class=\"d\">{}", esc(def.desc));
            if def.ty != ParamType::Password {
                let _ = write!(
                    body,
                    " (default: {})",
                    esc(if default.is_empty() { "empty" } else { default })
                );
            }
            if let Some(e) = errors.get(&key) {
                let _ = write!(
                    body,
                    "<br><span class=\"err\" id=\"err-{}\">{}</span>",
                    esc(&key),
                    esc(e)
                );
            }
            body.push_str("</span></div>");
        }
        if open {
            body.push_str("</fieldset>");
        }
        body.push_str("<p><button id=\"submit\">Submit</button></p></form>");
        body.push_str(extra);
        let status = if errors.is_empty() { 200 } else { 422 };
        self.page_status(status, tab, action, title, &body)
    }

    /// Validates and applies the posted values of a parameter page (all or nothing).
    fn save_params(
        &self,
        tab: Tab,
        action: &str,
        title: &str,
        filter: Filter<'_>,
        form: &Form,
        extra: &str,
    ) -> Response {
        let _g = self.app.files.lock().unwrap_or_else(|p| p.into_inner());
        let mut doc = self.app.stored();
        let model = self.model();
        let mut errors = FieldErrors::new();
        let mut changes: Vec<(String, String)> = Vec::new();
        let mut typed = Vec::new();
        for (key, value) in &form.fields {
            if key == "csrf" || !filter.matches(key) {
                continue;
            }
            let Lookup::Found(def, idx) = Schema::get().lookup(key, Some(model)) else {
                continue;
            };
            typed.push((key.clone(), value.clone()));
            let current = doc
                .get(key)
                .unwrap_or(def.default_for(Some(model), idx.as_slice()))
                .to_string();
            if def.ty == ParamType::Password && (value.is_empty() || value == MASK) {
                continue;
            }
            if *value == current {
                continue;
            }
            if let Err(e) = check_value(key, value, model) {
                errors.insert(key.clone(), e);
                continue;
            }
            if key == "security/web/https_only" && value == "1" && !self.app.settings.tls_available
            {
                errors.insert(
                    key.clone(),
                    "this phone has no HTTPS certificate: HTTPS-only would lock the web interface out".into(),
                );
                continue;
            }
            changes.push((key.clone(), value.clone()));
        }
        if !errors.is_empty() {
            // Never echo a typed password back into the page.
            typed.retain(|(k, _)| {
                !matches!(Schema::get().lookup(k, Some(model)), Lookup::Found(d, _) if d.ty == ParamType::Password)
            });
            return self.param_page(tab, action, title, filter, &errors, &typed, extra);
        }
        for (k, v) in &changes {
            if let Err(e) = doc.set(k, v) {
                errors.insert(k.clone(), e.to_string());
            }
        }
        if !errors.is_empty() {
            return self.param_page(tab, action, title, filter, &errors, &[], extra);
        }
        if !changes.is_empty() {
            if doc.declared_models().is_none() {
                let mut d = Document::new();
                d.append_comment(&ac_cfg::document::model_header(&[model]));
                for e in doc.entries() {
                    let _ = d.append(e.key, e.value);
                }
                doc = d;
            }
            if let Err(e) = self.app.write_cfg(&doc) {
                return self.page_status(500, tab, action, title, &note("bad", &e));
            }
            self.app.log(&format!(
                "{} {} changed {} parameter(s): {}",
                self.req.peer,
                self.sess.user,
                changes.len(),
                changes
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        Response::redirect(&format!("{action}?saved={}", changes.len()))
    }

    // ---- function / programmable keys ----------------------------------------------

    fn keys_page(&self, kind: KeyFileKind, msg: &str) -> Response {
        let (path, title) = keys_path(kind);
        let extra = format!(
            "{msg}<h2>Save / Load</h2><p><a id=\"save-keys\" href=\"{path}/save\">Save {title}</a></p>\
             <form method=\"post\" action=\"{path}/load\" enctype=\"multipart/form-data\">{}\
             <input type=\"file\" name=\"file\" id=\"keys-file\" accept=\".cfg\"> <button id=\"load-keys\">Load {title}</button></form>",
            self.csrf()
        );
        self.param_page(
            Tab::Configuration,
            path,
            title,
            Filter::Keys(kind),
            &FieldErrors::new(),
            &[],
            &extra,
        )
    }

    fn save_keys(&self, kind: KeyFileKind) -> Response {
        let doc = self.app.stored();
        let out = companion::save_key_file(&doc, self.model(), kind);
        let name = match kind {
            KeyFileKind::Function => "function_keys.cfg",
            KeyFileKind::Programmable => "programmable_keys.cfg",
        };
        Response::attachment("text/plain; charset=utf-8", name, out.emit())
    }

    fn load_keys(&self, kind: KeyFileKind, form: &Form) -> Response {
        let Some(file) = form.file("file") else {
            return self.keys_page(kind, &note("bad", "Choose a key file first."));
        };
        let _g = self.app.files.lock().unwrap_or_else(|p| p.into_inner());
        let parsed = match Document::parse_bytes(&file.data) {
            Ok(d) => d,
            Err(e) => return self.keys_page(kind, &note("bad", &e.to_string())),
        };
        let base = self.app.stored();
        match companion::load_key_file(&base, &parsed, self.model(), kind) {
            Ok(merged) => match self.app.write_cfg(&merged) {
                Ok(()) => self.keys_page(
                    kind,
                    &note(
                        "ok",
                        &format!("Loaded {} key setting(s).", parsed.entries().count()),
                    ),
                ),
                Err(e) => self.keys_page(kind, &note("bad", &e)),
            },
            Err(e) => self.keys_page(kind, &diag_list(&companion_diags(&e))),
        }
    }

    // ---- configuration file page (manual 2.2.1-2.2.5, 8.7.2) -------------------------

    /// The configuration to show: every parameter with its value in effect, or only those
    /// that differ from the defaults; password values masked.
    fn config_view(&self, modified_only: bool) -> String {
        let model = self.model();
        let stored = self.app.stored();
        let doc = if modified_only {
            delta::modified_fields(&stored, model).0
        } else {
            match delta::merge(&delta::defaults(model), &stored, model) {
                Ok(d) => d,
                Err(_) => stored.clone(),
            }
        };
        mask_passwords(&doc, model).emit()
    }

    fn config_file_page(&self, msg: &str) -> Response {
        let modified = self.q("modified") == Some("1");
        let text = self.config_view(modified);
        let dl = if modified {
            "/mgmt/config/download?modified=1"
        } else {
            "/mgmt/config/download"
        };
        let body = format!(
            "{msg}<form method=\"get\" action=\"/mgmt/config\"><label><input type=\"checkbox\" name=\"modified\" value=\"1\" id=\"modified\" data-autosubmit{}> \
             Display modified configuration fields only</label> <noscript><button>Show</button></noscript></form>\
             <pre id=\"config-text\">{}</pre>\
             <p><a id=\"save-config\" href=\"{dl}\">Save Current Configuration File</a></p>\
             <h2>Loading new Configuration File</h2>\
             <form method=\"post\" action=\"/mgmt/config/load\" enctype=\"multipart/form-data\">{}\
             <p><input type=\"file\" name=\"file\" id=\"config-file\" accept=\".cfg,.cfx\"></p>\
             <p><label>Passphrase (encrypted .cfx files and {{\"base64\"}} passwords): <input type=\"password\" name=\"passphrase\" id=\"passphrase\" autocomplete=\"off\"></label></p>\
             <p><button id=\"load-config\">Submit</button></p></form>",
            if modified { " checked" } else { "" },
            esc(&text),
            self.csrf()
        );
        self.page(Tab::Management, "/mgmt/config", "Configuration File", &body)
    }

    fn config_download(&self) -> Response {
        let modified = self.q("modified") == Some("1");
        let name = if modified {
            format!("{}_modified.cfg", self.model())
        } else {
            format!("{}.cfg", self.model())
        };
        Response::attachment(
            "application/octet-stream",
            &name,
            self.config_view(modified),
        )
    }

    fn config_load(&self, form: &Form) -> Response {
        let fail = |msg: String, status: u16| {
            let mut r = self.config_file_page(&msg);
            r.status = status;
            r
        };
        let Some(file) = form.file("file") else {
            return fail(note("bad", "Choose a .cfg or .cfx file first."), 400);
        };
        let passphrase = form.get("passphrase").filter(|p| !p.is_empty());
        let name = file.filename.clone().unwrap_or_default();
        let encrypted = name.to_ascii_lowercase().ends_with(".cfx")
            || crypto::is_aead(&file.data)
            || std::str::from_utf8(&file.data).is_err();
        let text = if encrypted {
            let Some(p) = passphrase else {
                return fail(
                    note("bad", "This file is encrypted: enter its passphrase."),
                    422,
                );
            };
            match crypto::decrypt_config(&file.data, &Keys::passphrase(p)) {
                Ok(t) => t,
                Err(e) => return fail(note("bad", &format!("Cannot decrypt {name}: {e}")), 422),
            }
        } else {
            String::from_utf8_lossy(&file.data).into_owned()
        };
        match self.apply_config(&text, passphrase) {
            Ok(n) => {
                let _ = self.app.phone.restart();
                self.app
                    .log(&format!("{} {} loaded a configuration file ({n} settings)", self.req.peer, self.sess.user));
                self.config_file_page(&note(
                    "ok",
                    &format!("Configuration file {name} loaded: {n} setting(s) applied. The phone restarts to use them."),
                ))
            }
            Err(msgs) => fail(
                format!(
                    "<div class=\"bad\" id=\"load-errors\">{} was not loaded; nothing was changed:<ul class=\"diags\">{}</ul></div>",
                    esc(&name),
                    msgs.iter().map(|m| format!("<li>{}</li>", esc(m))).collect::<String>()
                ),
                422,
            ),
        }
    }

    /// Validates an uploaded configuration and merges it onto the stored one (all or
    /// nothing). Account passwords move into the hashed credentials file.
    fn apply_config(&self, text: &str, passphrase: Option<&str>) -> Result<usize, Vec<String>> {
        let model = self.model();
        let doc = Document::parse(text).map_err(|e| vec![e.to_string()])?;
        let diags = validate::validate(&doc, &validate::Options::for_model(Some(model)));
        let errs: Vec<String> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(cfg_err)
            .collect();
        if !errs.is_empty() {
            return Err(errs);
        }
        delta::check_model(&doc, model).map_err(|e| vec![e.to_string()])?;
        // Masked values (a downloaded file loaded back) keep the current value; account
        // passwords are hashed and kept out of phone.cfg.
        let mut upload = Document::new();
        let mut new_pw: Vec<(Role, String)> = Vec::new();
        for line in doc.lines() {
            let Some((k, v)) = line.entry() else {
                upload_comment(&mut upload, line.text());
                continue;
            };
            let is_pw = matches!(Schema::get().lookup(k, Some(model)), Lookup::Found(d, _) if d.ty == ParamType::Password);
            if is_pw && v == MASK {
                continue;
            }
            let role = match k {
                "system/password" => Some(Role::Admin),
                "system/web_user_password" => Some(Role::User),
                _ => None,
            };
            if let Some(role) = role {
                let clear = if v.starts_with("{\"") {
                    let Some(p) = passphrase else {
                        return Err(vec![format!(
                            "{k}: an encrypted password needs the passphrase"
                        )]);
                    };
                    crypto::decrypt_value(v, &TdesKey::passphrase(p))
                        .map_err(|e| vec![format!("{k}: {e}")])?
                } else {
                    v.to_string()
                };
                if clear.is_empty() || clear.chars().count() > auth::MAX_PASSWORD {
                    return Err(vec![format!(
                        "{k}: a password must be 1 to {} characters",
                        auth::MAX_PASSWORD
                    )]);
                }
                new_pw.push((role, clear));
                continue;
            }
            upload.append(k, v).map_err(|e| vec![e.to_string()])?;
        }
        let _g = self.app.files.lock().unwrap_or_else(|p| p.into_inner());
        let base = self.app.stored();
        let mut base = if base.declared_models().is_none() && base.is_empty() {
            let mut d = Document::new();
            d.append_comment(&ac_cfg::document::model_header(&[model]));
            d
        } else {
            base
        };
        for (role, _) in &new_pw {
            base.remove(match role {
                Role::Admin => "system/password",
                Role::User => "system/web_user_password",
            });
        }
        let n = upload.entries().count() + new_pw.len();
        let merged = delta::merge(&base, &upload, model).map_err(|e| match e {
            delta::DeltaError::Invalid(d)
            | delta::DeltaError::ModelMismatch { diagnostics: d, .. } => {
                d.iter().map(cfg_err).collect()
            }
            other => vec![other.to_string()],
        })?;
        if merged.get("security/web/https_only") == Some("1") && !self.app.settings.tls_available {
            return Err(vec![
                "security/web/https_only=1 but this phone has no HTTPS certificate: it would lock the web interface out".into(),
            ]);
        }
        self.app.write_cfg(&merged).map_err(|e| vec![e])?;
        let mut st = self.app.state();
        for (role, pw) in new_pw {
            st.creds.set(role, &pw).map_err(|e| vec![e.to_string()])?;
            st.sessions.password_changed(role);
        }
        Ok(n)
    }

    // ---- firmware (manual 5.1) ------------------------------------------------------------

    fn slots_table(&self) -> String {
        let mut s = String::from(
            "<table id=\"slots\"><tr><th>slot</th><th>state</th><th>version</th></tr>",
        );
        match self.app.phone.firmware_slots().and_then(|mut st| {
            st.state()
                .map_err(|e| crate::phone::PhoneError::Refused(e.to_string()))
        }) {
            Ok(bs) => {
                for slot in [ac_prov::firmware::Slot::A, ac_prov::firmware::Slot::B] {
                    let i = bs.slot(slot);
                    let active = if bs.active == slot {
                        if bs.trial {
                            " (active, on trial)"
                        } else {
                            " (active)"
                        }
                    } else {
                        ""
                    };
                    let _ = write!(
                        s,
                        "<tr><td>{slot:?}{active}</td><td>{}</td><td class=\"fw-version\">{}</td></tr>",
                        esc(&format!("{:?}", i.state)),
                        esc(if i.state == SlotState::Empty { "-" } else { &i.version })
                    );
                }
            }
            Err(e) => {
                let _ = write!(s, "<tr><td colspan=\"3\">{}</td></tr>", esc(&e.to_string()));
            }
        }
        s.push_str("</table>");
        s
    }

    fn firmware_page(&self, msg: &str) -> Response {
        let body = format!(
            "{msg}{}<h2>Upload a firmware image</h2><p>Signed images only: the header (signature, model, version, \
             anti-rollback counter) is checked first, the image goes to the slot that is not running, is verified \
             again from flash and only then activated, on trial.</p>\
             <form method=\"post\" action=\"/mgmt/firmware\" enctype=\"multipart/form-data\">{}\
             <input type=\"file\" name=\"image\" id=\"fw-file\" accept=\".img\"> <button id=\"fw-submit\">Submit</button></form>",
            self.slots_table(),
            self.csrf()
        );
        self.page(
            Tab::Management,
            "/mgmt/firmware",
            "Manual Firmware Upgrade",
            &body,
        )
    }

    fn firmware_post(&self, form: &Form) -> Response {
        let Some(file) = form.file("image") else {
            return self.firmware_page(&note("bad", "Choose an .img file first."));
        };
        let result = (|| -> Result<String, String> {
            let mut store = self.app.phone.firmware_slots().map_err(|e| e.to_string())?;
            let keys = self.app.phone.firmware_keys();
            let policy = Policy::new(self.model());
            let data = &file.data;
            let head = &data[..data.len().min(MAX_HEADER_LEN)];
            let mut inst = Installer::begin(store.as_mut(), &keys, &policy, head)
                .map_err(|e| e.to_string())?;
            let from = usize::try_from(inst.offset())
                .unwrap_or(usize::MAX)
                .min(data.len());
            if let Err(e) = inst.feed(store.as_mut(), &data[from..]) {
                let _ = inst.abort(store.as_mut());
                return Err(e.to_string());
            }
            let h = inst.finish(store.as_mut()).map_err(|e| e.to_string())?;
            Ok(h.version)
        })();
        match result {
            Ok(v) => {
                self.app.log(&format!(
                    "{} {} installed firmware {v}",
                    self.req.peer, self.sess.user
                ));
                let _ = self.app.phone.restart();
                self.firmware_page(&format!(
                    "<div class=\"ok\" id=\"fw-result\">Firmware {} was written and verified; the phone restarts into it on trial.</div>",
                    esc(&v)
                ))
            }
            Err(e) => {
                let mut r = self.firmware_page(&format!(
                    "<div class=\"bad\" id=\"fw-result\">Firmware refused: {}. The running firmware is unchanged.</div>",
                    esc(&e)
                ));
                r.status = 422;
                r
            }
        }
    }

    fn check_now_form(&self) -> String {
        format!(
            "<h2>Check Now</h2><form method=\"post\" action=\"/mgmt/provisioning/check\">{}<button id=\"check-now\">Check Now</button></form>",
            self.csrf()
        )
    }

    // ---- users, restart, defaults ------------------------------------------------------

    fn users_page(&self, msg: &str) -> Response {
        let doc = self.app.stored();
        let admin = self.app.value(&doc, "system/user_name").unwrap_or_default();
        let user = self
            .app
            .value(&doc, "system/web_user_name")
            .unwrap_or_default();
        let mut body = String::from(msg);
        if self.q("updated") == Some("1") {
            body.push_str(&note("ok", "The account was updated."));
        }
        for (acct, title, name) in [
            ("admin", "Administrator account", admin),
            ("user", "User account", user),
        ] {
            let _ = write!(
                body,
                "<fieldset><legend>{title}</legend><form method=\"post\" action=\"/mgmt/users\">{}\
                 <input type=\"hidden\" name=\"account\" value=\"{acct}\">\
                 <p><label>Username <input name=\"username\" id=\"{acct}-username\" value=\"{}\"></label></p>\
                 <p><label>Password <input type=\"password\" name=\"password\" id=\"{acct}-password\" autocomplete=\"new-password\"></label></p>\
                 <p><label>Confirm Password <input type=\"password\" name=\"confirm\" id=\"{acct}-confirm\" autocomplete=\"new-password\"></label></p>\
                 <p><label>Your current password <input type=\"password\" name=\"current\" id=\"{acct}-current\" autocomplete=\"current-password\"></label></p>\
                 <p><button id=\"{acct}-submit\">Submit</button></p></form></fieldset>",
                self.csrf(),
                esc(&name)
            );
        }
        self.page(Tab::Management, "/mgmt/users", "Users", &body)
    }

    fn users_post(&self, form: &Form) -> Response {
        let role = match form.get("account") {
            Some("admin") => Role::Admin,
            Some("user") => Role::User,
            _ => return self.users_page(&note("bad", "Unknown account.")),
        };
        let bad = |m: &str| {
            let mut r = self.users_page(&note("bad", m));
            r.status = 422;
            r
        };
        let current = form.get("current").unwrap_or("");
        if !self.app.state().creds.verify(self.sess.role, current) {
            return bad("Your current password is wrong; nothing was changed.");
        }
        let username = form.get("username").unwrap_or("").trim();
        let pw = form.get("password").unwrap_or("");
        if pw != form.get("confirm").unwrap_or("") {
            return bad("The passwords do not match; nothing was changed.");
        }
        let key = match role {
            Role::Admin => "system/user_name",
            Role::User => "system/web_user_name",
        };
        if username.is_empty() {
            return bad("The username cannot be empty.");
        }
        if let Err(e) = check_value(key, username, self.model()) {
            return bad(&e);
        }
        let _g = self.app.files.lock().unwrap_or_else(|p| p.into_inner());
        let mut doc = self.app.stored();
        if self.app.value(&doc, key).as_deref() != Some(username) {
            if let Err(e) = doc.set(key, username) {
                return bad(&e.to_string());
            }
            if let Err(e) = self.app.write_cfg(&doc) {
                return bad(&e);
            }
        }
        if !pw.is_empty() {
            let mut st = self.app.state();
            if let Err(e) = st.creds.set(role, pw) {
                drop(st);
                return bad(&e.to_string());
            }
            // Other sessions of the account end; this one stays, without the warning.
            st.sessions.clear_role_except(role, self.token);
            st.sessions.password_changed(role);
        }
        self.app.log(&format!(
            "{} {} updated the {} account",
            self.req.peer,
            self.sess.user,
            role.name()
        ));
        Response::redirect("/mgmt/users?updated=1")
    }

    fn confirm_page(&self, action: &str, title: &str, question: &str, button: &str) -> Response {
        let body = format!(
            "<form method=\"post\" action=\"{action}\" data-confirm=\"{}\">{}<p>{}</p><button id=\"confirm-submit\">{}</button></form>",
            esc(question),
            self.csrf(),
            esc(question),
            esc(button)
        );
        self.page(Tab::Management, action, title, &body)
    }

    fn restore_defaults(&self) -> Response {
        let model = self.model();
        let result = (|| -> Result<(), String> {
            let _g = self.app.files.lock().unwrap_or_else(|p| p.into_inner());
            let mut d = Document::new();
            d.append_comment(&ac_cfg::document::model_header(&[model]));
            self.app.write_cfg(&d)?;
            let _ = std::fs::remove_file(self.app.settings.dir.join("directory.csv"));
            let _ = std::fs::remove_dir_all(self.app.settings.dir.join("tones"));
            let mut st = self.app.state();
            st.creds.reset().map_err(|e| e.to_string())?;
            st.sessions.clear();
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.app.log(&format!(
                    "{} {} restored factory defaults",
                    self.req.peer, self.sess.user
                ));
                let _ = self.app.phone.restart();
                Response::html(
                    200,
                    html::bare(
                        "Restore Defaults",
                        "<p class=\"ok\">Factory defaults restored. The phone restarts. <a href=\"/login\">Log in</a> again (admin / 1234).</p>",
                    ),
                )
            }
            Err(e) => self.page(
                Tab::Management,
                "/mgmt/defaults",
                "Restore Defaults",
                &note("bad", &e),
            ),
        }
    }

    // ---- directory, tones, sign-in -----------------------------------------------------

    fn directory_page(&self, msg: &str) -> Response {
        let list = self.app.directory();
        let mut body = String::from(msg);
        body.push_str("<table id=\"directory\"><tr><th>Name</th><th>Office</th><th>Home</th><th>Mobile</th><th></th></tr>");
        for (i, c) in list.iter().enumerate() {
            let _ = write!(
                body,
                "<tr><form method=\"post\" action=\"/config/directory\">{}<input type=\"hidden\" name=\"idx\" value=\"{i}\">\
                 <td><input name=\"name\" value=\"{}\"></td><td><input name=\"office\" value=\"{}\"></td>\
                 <td><input name=\"home\" value=\"{}\"></td><td><input name=\"mobile\" value=\"{}\"></td>\
                 <td><button name=\"action\" value=\"update\">Save</button> <button name=\"action\" value=\"delete\">Delete</button></td></form></tr>",
                self.csrf(),
                esc(&c.name),
                esc(&c.office),
                esc(&c.home),
                esc(&c.mobile)
            );
        }
        let _ = write!(
            body,
            "</table><h2>Add Contact</h2><form method=\"post\" action=\"/config/directory\">{}<input type=\"hidden\" name=\"action\" value=\"add\">\
             <input name=\"name\" placeholder=\"Name\" id=\"dir-name\"> <input name=\"office\" placeholder=\"Office\" id=\"dir-office\"> \
             <input name=\"home\" placeholder=\"Home\"> <input name=\"mobile\" placeholder=\"Mobile\"> <button id=\"dir-add\">Add</button></form>\
             <h2>Save / Load Personal Directory</h2><p><a href=\"/config/directory/save\" id=\"dir-save\">Save Personal Directory</a></p>\
             <form method=\"post\" action=\"/config/directory\" enctype=\"multipart/form-data\">{}<input type=\"hidden\" name=\"action\" value=\"load\">\
             <input type=\"file\" name=\"file\" accept=\".csv\"> <button>Load Personal Directory</button></form>",
            self.csrf(),
            self.csrf()
        );
        self.page(
            Tab::Configuration,
            "/config/directory",
            "Personal Directory",
            &body,
        )
    }

    fn directory_post(&self, form: &Form) -> Response {
        let _g = self.app.files.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = self.app.directory();
        let contact = || Contact {
            name: form.get("name").unwrap_or("").trim().to_string(),
            office: form.get("office").unwrap_or("").trim().to_string(),
            home: form.get("home").unwrap_or("").trim().to_string(),
            mobile: form.get("mobile").unwrap_or("").trim().to_string(),
        };
        let idx = form.get("idx").and_then(|i| i.parse::<usize>().ok());
        match (form.get("action").unwrap_or(""), idx) {
            ("add", _) => list.push(contact()),
            ("update", Some(i)) if i < list.len() => list[i] = contact(),
            ("delete", Some(i)) if i < list.len() => {
                list.remove(i);
            }
            ("load", _) => {
                let Some(f) = form.file("file") else {
                    return self.directory_page(&note("bad", "Choose a directory file first."));
                };
                match companion::parse_directory(&f.data) {
                    Ok(l) => list = l,
                    Err(e) => return self.directory_page(&note("bad", &e.to_string())),
                }
            }
            _ => return self.directory_page(&note("bad", "Unknown action.")),
        }
        // Validate the whole list through the file format itself.
        let text = companion::emit_directory(&list);
        if let Err(e) = companion::parse_directory(text.as_bytes()) {
            let mut r = self.directory_page(&note("bad", &format!("Not saved: {e}")));
            r.status = 422;
            return r;
        }
        match ac_cfg::fsutil::atomic_write(
            &self.app.settings.dir.join("directory.csv"),
            text.as_bytes(),
        ) {
            Ok(()) => Response::redirect("/config/directory"),
            Err(e) => self.directory_page(&note("bad", &e.to_string())),
        }
    }

    fn tones_dir(&self) -> PathBuf {
        self.app.settings.dir.join("tones")
    }

    fn tones(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.tones_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".wav"))
                    .map(str::to_string)
            })
            .collect();
        v.sort();
        v
    }

    fn tones_page(&self, msg: &str) -> Response {
        let mut body = String::from(msg);
        body.push_str(&self.param_fields_inline("personal_settings/lines/0/ring_tone"));
        let _ = write!(
            body,
            "<h2>Ringing Tones</h2><form method=\"post\" action=\"/config/tones\">{}<input type=\"hidden\" name=\"action\" value=\"delete\"><ul id=\"tones\">",
            self.csrf()
        );
        for t in self.tones() {
            let _ = write!(
                body,
                "<li><label><input type=\"checkbox\" name=\"delete\" value=\"{0}\"> {0}</label></li>",
                esc(&t)
            );
        }
        let _ = write!(
            body,
            "</ul><button>Delete selected</button></form><h2>Upload Ringing Tone</h2>\
             <form method=\"post\" action=\"/config/tones\" enctype=\"multipart/form-data\">{}<input type=\"hidden\" name=\"action\" value=\"upload\">\
             <p><label>Ringing Tone Name <input name=\"tone_name\" id=\"tone-name\"></label></p>\
             <p><input type=\"file\" name=\"file\" id=\"tone-file\" accept=\".wav\"> <button id=\"tone-submit\">Submit</button></p></form>",
            self.csrf()
        );
        self.page(Tab::Configuration, "/config/tones", "Tones", &body)
    }

    fn param_fields_inline(&self, key: &str) -> String {
        let doc = self.app.stored();
        let v = self.app.value(&doc, key).unwrap_or_default();
        format!("<p>Ring tone in use ({}): <b>{}</b></p>", esc(key), esc(&v))
    }

    fn tones_post(&self, form: &Form) -> Response {
        let dir = self.tones_dir();
        match form.get("action") {
            Some("delete") => {
                let names: Vec<&str> = form
                    .fields
                    .iter()
                    .filter(|(n, _)| n == "delete")
                    .map(|(_, v)| v.as_str())
                    .collect();
                for n in names {
                    if valid_tone_name(n) {
                        let _ = std::fs::remove_file(dir.join(format!("{n}.wav")));
                    }
                }
                Response::redirect("/config/tones")
            }
            Some("upload") => {
                let Some(f) = form.file("file") else {
                    return self.tones_page(&note("bad", "Choose a WAV file first."));
                };
                let fname = f.filename.as_deref().unwrap_or("");
                let base = fname.rsplit(['/', '\\']).next().unwrap_or("");
                let name = match form
                    .get("tone_name")
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                {
                    Some(n) => n.to_string(),
                    None => base.strip_suffix(".wav").unwrap_or(base).to_string(),
                };
                if !valid_tone_name(&name) {
                    let mut r = self.tones_page(&note(
                        "bad",
                        "A tone name is 1-32 letters, digits, '-' or '_'.",
                    ));
                    r.status = 422;
                    return r;
                }
                if let Err(e) = check_wav(&f.data) {
                    let mut r = self.tones_page(&note("bad", &format!("Not uploaded: {e}")));
                    r.status = 422;
                    return r;
                }
                if self.tones().len() >= 32 && !dir.join(format!("{name}.wav")).exists() {
                    return self
                        .tones_page(&note("bad", "At most 32 ring tones; delete one first."));
                }
                let res = std::fs::create_dir_all(&dir).and_then(|()| {
                    ac_cfg::fsutil::atomic_write(&dir.join(format!("{name}.wav")), &f.data)
                });
                match res {
                    Ok(()) => self.tones_page(&note("ok", &format!("Ring tone {name} uploaded."))),
                    Err(e) => self.tones_page(&note("bad", &e.to_string())),
                }
            }
            _ => self.tones_page(&note("bad", "Unknown action.")),
        }
    }

    fn sign_in_page(&self, msg: &str) -> Response {
        let state = match self.app.phone.sign_in_state() {
            SignInState::SignedOut => "<p id=\"signin-state\">Signed out.</p>".to_string(),
            SignInState::SignedIn { user } => {
                format!(
                    "<p id=\"signin-state\">Signed in as <b>{}</b>.</p>",
                    esc(&user)
                )
            }
        };
        let body = format!(
            "{msg}{state}<form method=\"post\" action=\"/config/sign-in\">{c}<input type=\"hidden\" name=\"action\" value=\"sign-in\">\
             <p>Sign-in Method: <select name=\"method\" id=\"signin-method\"><option value=\"pin\">PIN Code</option><option value=\"user\">Username &amp; Password</option></select></p>\
             <p><label>Phone Number <input name=\"phone_number\" id=\"signin-number\"></label></p>\
             <p><label>User name (domain\\user) <input name=\"user\" id=\"signin-user\"></label></p>\
             <p><label>PIN code / Password <input type=\"password\" name=\"secret\" id=\"signin-secret\" autocomplete=\"off\"></label></p>\
             <p><button id=\"signin-submit\">Sign in</button></p></form>\
             <form method=\"post\" action=\"/config/sign-in\">{c}<input type=\"hidden\" name=\"action\" value=\"sign-out\"><button id=\"signout-submit\">Sign out</button></form>",
            c = self.csrf()
        );
        self.page(Tab::Configuration, "/config/sign-in", "Sign in", &body)
    }

    fn sign_in_post(&self, form: &Form) -> Response {
        let r = match form.get("action") {
            Some("sign-out") => self.app.phone.sign_out(),
            Some("sign-in") => {
                let secret = form.get("secret").unwrap_or("").to_string();
                let req = if form.get("method") == Some("user") {
                    SignIn::UserPassword {
                        user: form.get("user").unwrap_or("").trim().to_string(),
                        password: secret,
                    }
                } else {
                    SignIn::Pin {
                        phone_number: form.get("phone_number").unwrap_or("").trim().to_string(),
                        pin: secret,
                    }
                };
                let (who, secret) = match &req {
                    SignIn::Pin { phone_number, pin } => (phone_number, pin),
                    SignIn::UserPassword { user, password } => (user, password),
                };
                if who.is_empty() || secret.is_empty() || who.len() > 128 || secret.len() > 128 {
                    return self.sign_in_page(&note(
                        "bad",
                        "Enter the number or user name and the PIN or password.",
                    ));
                }
                self.app.phone.sign_in(&req)
            }
            _ => return self.sign_in_page(&note("bad", "Unknown action.")),
        };
        match r {
            Ok(()) => Response::redirect("/config/sign-in"),
            Err(e) => self.sign_in_page(&note("bad", &e.to_string())),
        }
    }

    // ---- status & diagnostics --------------------------------------------------------

    fn system_info(&self) -> Response {
        let mut rows = vec![("Model".to_string(), self.model().to_string())];
        if let Ok(mut st) = self.app.phone.firmware_slots() {
            if let Ok(bs) = st.state() {
                rows.push((
                    "Firmware version".into(),
                    bs.slot(bs.active).version.clone(),
                ));
                rows.push(("Running slot".into(), format!("{:?}", bs.active)));
            }
        }
        rows.push((
            "Web server".into(),
            format!("ac-web {}", env!("CARGO_PKG_VERSION")),
        ));
        rows.extend(self.app.phone.system_info().rows);
        self.rows_page("/status/system", "System Information", &rows)
    }

    fn rows_page(&self, active: &str, title: &str, rows: &[(String, String)]) -> Response {
        let mut body = String::from("<table class=\"info\">");
        for (k, v) in rows {
            let _ = write!(body, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
        }
        body.push_str("</table>");
        self.page(Tab::Status, active, title, &body)
    }

    fn voip_page(&self) -> Response {
        let mut body = String::from("<table id=\"lines\"><tr><th>Line</th><th>URI</th><th>Registration</th><th>Detail</th></tr>");
        for l in self.app.phone.lines() {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                l.line,
                esc(&l.uri),
                if l.registered {
                    "Registered"
                } else {
                    "Not registered"
                },
                esc(&l.detail)
            );
        }
        body.push_str("</table>");
        let doc = self.app.stored();
        let _ = write!(
            body,
            "<h2>Sign-in</h2><p>{}</p>",
            match self.app.phone.sign_in_state() {
                SignInState::SignedOut => "Signed out".to_string(),
                SignInState::SignedIn { user } => format!("Signed in as {}", esc(&user)),
            }
        );
        let _ = doc;
        self.page(Tab::Status, "/status/voip", "VoIP Status", &body)
    }

    fn calls_page(&self) -> Response {
        let filter = self.q("type").and_then(CallKind::parse);
        let mut body = String::from(
            "<form method=\"get\" action=\"/status/calls\">Type: <select name=\"type\" id=\"call-type\">\
             <option value=\"\">all</option><option value=\"missed\">missed calls</option>\
             <option value=\"received\">received calls</option><option value=\"dialed\">dialed numbers</option></select> <button>Show</button></form>",
        );
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/status/calls/delete\">{}<table id=\"calls\"><tr><th>Delete</th><th>Type</th><th>Number</th><th>Name</th><th>Time</th><th>Duration</th></tr>",
            self.csrf()
        );
        for c in self.app.phone.calls() {
            if filter.is_some_and(|f| f != c.kind) {
                continue;
            }
            let _ = write!(
                body,
                "<tr><td><input type=\"checkbox\" name=\"id\" value=\"{}\"></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} s</td></tr>",
                c.id,
                c.kind.name(),
                esc(&c.number),
                esc(&c.name),
                esc(&c.time),
                c.duration_s
            );
        }
        body.push_str("</table><button>Delete</button></form>");
        self.page(Tab::Status, "/status/calls", "Call History", &body)
    }

    fn tracing_page(&self, msg: &str) -> Response {
        let log = self.app.phone.trace_log();
        let tail = &log[log.len().saturating_sub(64 * 1024)..];
        let tail = match tail.char_indices().next() {
            Some(_) => tail,
            None => "",
        };
        let body = format!(
            "{msg}<pre id=\"trace\">{}</pre><form method=\"post\" action=\"/status/tracing/clean\">{}<button id=\"clean-log\">Clean log</button></form>\
             <p><a href=\"/status/tracing/save\" id=\"save-log\">Save log</a></p>",
            esc(tail),
            self.csrf()
        );
        self.page(Tab::Status, "/status/tracing", "Tracing", &body)
    }

    fn monitoring_page(&self, result: &str, dest: &str, count: u32) -> Response {
        let body = format!(
            "<form method=\"post\" action=\"/status/monitoring\">{}<p><label>Destination <input name=\"dest\" id=\"ping-dest\" value=\"{}\"></label></p>\
             <p><label>Number of pings <input name=\"count\" id=\"ping-count\" value=\"{count}\"></label></p><button id=\"ping-go\">Go</button></form>{result}",
            self.csrf(),
            esc(dest)
        );
        self.page(Tab::Status, "/status/monitoring", "Monitoring", &body)
    }

    fn monitoring_post(&self, form: &Form) -> Response {
        let dest = form.get("dest").unwrap_or("").trim();
        let count = form.get("count").and_then(|c| c.trim().parse::<u32>().ok());
        let Some(count) = count.filter(|c| (1..=10).contains(c)) else {
            return self.monitoring_page(&note("bad", "Number of pings: 1 to 10."), dest, 4);
        };
        if !valid_host(dest) {
            return self.monitoring_page(
                &note("bad", "Destination: an IP address or host name."),
                dest,
                count,
            );
        }
        let out = match self.app.phone.ping(dest, count) {
            Ok(o) => format!("<pre id=\"ping-result\">{}</pre>", esc(&o)),
            Err(e) => note("bad", &e.to_string()),
        };
        self.monitoring_page(&out, dest, count)
    }
}

fn valid_tone_name(n: &str) -> bool {
    (1..=32).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn keys_path(kind: KeyFileKind) -> (&'static str, &'static str) {
    match kind {
        KeyFileKind::Function => ("/config/function-keys", "Function Keys"),
        KeyFileKind::Programmable => ("/config/programmable-keys", "Programmable Keys"),
    }
}

fn upload_comment(doc: &mut Document<'static>, text: &str) {
    let t = text.trim();
    if t.starts_with(['#', ';']) {
        doc.append_comment(t);
    }
}

fn companion_diags(e: &companion::CompanionError) -> Vec<String> {
    match e {
        companion::CompanionError::Delta(delta::DeltaError::Invalid(d))
        | companion::CompanionError::Delta(delta::DeltaError::ModelMismatch {
            diagnostics: d,
            ..
        }) => d.iter().map(cfg_err).collect(),
        other => vec![other.to_string()],
    }
}

fn diag_list(msgs: &[String]) -> String {
    format!(
        "<div class=\"bad\"><ul class=\"diags\">{}</ul></div>",
        msgs.iter()
            .map(|m| format!("<li>{}</li>", esc(m)))
            .collect::<String>()
    )
}

/// Validates one `key=value` for a model with the schema's validator.
fn check_value(key: &str, value: &str, model: Model) -> Result<(), String> {
    let line = format!("{key}={value}");
    let doc = Document::parse(&line).map_err(|e| e.to_string())?;
    if doc.entries().count() != 1 {
        return Err("a value cannot contain a line break".into());
    }
    let mut opts = validate::Options::for_model(Some(model));
    opts.strict_unknown = true;
    let errs: Vec<String> = validate::validate(&doc, &opts)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message)
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

/// Replaces every non-empty password value with [`MASK`].
fn mask_passwords(doc: &Document<'_>, model: Model) -> Document<'static> {
    let mut out = doc.clone().into_owned();
    let idx: Vec<usize> = out
        .lines()
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let (k, v) = l.entry()?;
            let pw = matches!(Schema::get().lookup(k, Some(model)), Lookup::Found(d, _) if d.ty == ParamType::Password)
                || k.contains("password");
            (pw && !v.is_empty()).then_some(i)
        })
        .collect();
    for i in idx {
        let _ = out.set_at(i, MASK);
    }
    out
}

fn field_input(def: &ParamDef, key: &str, value: &str, model: Model) -> String {
    let id = format!("f-{}", esc(key));
    let name = esc(key);
    match def.ty {
        ParamType::Bool => format!(
            "<select name=\"{name}\" id=\"{id}\"><option value=\"0\"{}>Disable</option><option value=\"1\"{}>Enable</option></select>",
            if value == "0" { " selected" } else { "" },
            if value == "1" { " selected" } else { "" }
        ),
        ParamType::Enum => {
            let mut s = format!("<select name=\"{name}\" id=\"{id}\">");
            let mut found = false;
            for v in def.values {
                let sel = v.eq_ignore_ascii_case(value);
                found |= sel;
                let _ = write!(
                    s,
                    "<option value=\"{0}\"{1}>{0}</option>",
                    esc(v),
                    if sel { " selected" } else { "" }
                );
            }
            if !found {
                let _ = write!(s, "<option value=\"{0}\" selected>{0}</option>", esc(value));
            }
            s.push_str("</select>");
            s
        }
        ParamType::Password => format!(
            "<input type=\"password\" name=\"{name}\" id=\"{id}\" autocomplete=\"off\" placeholder=\"{}\">",
            if value.is_empty() { "not set" } else { "set (leave empty to keep)" }
        ),
        ParamType::Int => {
            let (lo, hi) = def.range_for(Some(model));
            let range = match (lo, hi) {
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => String::new(),
            };
            format!(
                "<input name=\"{name}\" id=\"{id}\" value=\"{}\" inputmode=\"numeric\" title=\"{range}\" size=\"12\">",
                esc(value)
            )
        }
        _ => format!(
            "<input name=\"{name}\" id=\"{id}\" value=\"{}\" size=\"32\">",
            esc(value)
        ),
    }
}

impl App {
    fn directory(&self) -> Vec<Contact> {
        std::fs::read(self.settings.dir.join("directory.csv"))
            .ok()
            .and_then(|d| companion::parse_directory(&d).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_check() {
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&36u32.to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&16000u32.to_le_bytes());
        w.extend_from_slice(&32000u32.to_le_bytes());
        w.extend_from_slice(&2u16.to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        assert!(check_wav(&w).is_ok());
        w[24..28].copy_from_slice(&44100u32.to_le_bytes());
        assert!(check_wav(&w).is_err());
        assert!(check_wav(b"RIFF\xff\xff\xff\xffWAVEfmt \xff\xff\xff\xff").is_err());
        assert!(check_wav(b"nope").is_err());
    }

    #[test]
    fn hosts() {
        assert!(valid_host("127.0.0.1") && valid_host("::1") && valid_host("pbx.example.com"));
        assert!(!valid_host("-c1") && !valid_host("a b") && !valid_host("x;rm") && !valid_host(""));
    }

    #[test]
    fn masking() {
        let d =
            Document::parse("voip/line/0/auth_password=secret\nnetwork/lan_type=DHCP\n").unwrap();
        let m = mask_passwords(&d, Model::Hd440).emit();
        assert!(!m.contains("secret"));
        assert!(m.contains("voip/line/0/auth_password=********"));
    }

    #[test]
    fn values_are_checked_by_the_schema() {
        assert!(check_value("network/lan_type", "STATIC", Model::Hd440).is_ok());
        assert!(check_value("network/lan_type", "BOGUS", Model::Hd440).is_err());
        assert!(check_value("no/such", "1", Model::Hd440).is_err());
    }
}
