//! Server-rendered HTML: escaping, the page frame with the three tabs of the manual
//! (Configuration, Management, Status & Diagnostics), and the static CSS and JS.
//!
//! The only script is `/static/app.js` (a confirmation for Restart / Restore Defaults and
//! the auto-submit of the "modified fields only" box); the Content-Security-Policy forbids
//! inline scripts, so no page can carry any other.

use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The tabs of the manual's Web interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Configuration,
    Management,
    Status,
}

impl Tab {
    pub fn title(self) -> &'static str {
        match self {
            Tab::Configuration => "Configuration",
            Tab::Management => "Management",
            Tab::Status => "Status & Diagnostics",
        }
    }

    fn home(self) -> &'static str {
        match self {
            Tab::Configuration => "/config",
            Tab::Management => "/mgmt/config",
            Tab::Status => "/status/system",
        }
    }
}

/// What the frame needs to know about the viewer.
pub struct Viewer<'a> {
    pub user: &'a str,
    pub admin: bool,
    pub csrf: &'a str,
    pub default_password: bool,
    pub model: &'a str,
}

/// A hidden CSRF field for a form.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// The whole page: header, tabs, the tab's menu, the default-password warning and `body`.
pub fn frame(
    v: &Viewer<'_>,
    tab: Tab,
    menu: &[(String, String)],
    active: &str,
    title: &str,
    body: &str,
) -> String {
    let mut s = String::with_capacity(body.len() + 4096);
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} - {}</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"><script src=\"/static/app.js\" defer></script></head><body>\
         <header><span class=\"brand\">AudioCodes {}</span>",
        esc(title),
        esc(v.model),
        esc(v.model)
    );
    let tabs: &[Tab] = if v.admin {
        &[Tab::Configuration, Tab::Management, Tab::Status]
    } else {
        &[Tab::Configuration, Tab::Status]
    };
    s.push_str("<nav class=\"tabs\">");
    for t in tabs {
        let _ = write!(
            s,
            "<a href=\"{}\"{}>{}</a>",
            t.home(),
            if *t == tab { " class=\"on\"" } else { "" },
            esc(t.title())
        );
    }
    let _ = write!(
        s,
        "</nav><form method=\"post\" action=\"/logout\" class=\"logout\">{}<span>{}</span> <button id=\"logout\">Log out</button></form></header>",
        csrf_field(v.csrf),
        esc(v.user)
    );
    if v.default_password {
        s.push_str(
            "<div class=\"warn\" id=\"default-password-warning\">Warning: this account still uses the \
             default password 1234. Change it now (Management &gt; Users).</div>",
        );
    }
    s.push_str("<div class=\"main\"><nav class=\"menu\">");
    for (href, label) in menu {
        let _ = write!(
            s,
            "<a href=\"{}\"{}>{}</a>",
            esc(href),
            if href == active { " class=\"on\"" } else { "" },
            esc(label)
        );
    }
    let _ = write!(
        s,
        "</nav><main><h1>{}</h1>{}</main></div></body></html>",
        esc(title),
        body
    );
    s
}

/// A page without the frame (login, errors before a session exists).
pub fn bare(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><div class=\"bare\"><h1>{}</h1>{}</div></body></html>",
        esc(title),
        esc(title),
        body
    )
}

/// A message box.
pub fn note(kind: &str, text: &str) -> String {
    format!("<div class=\"{kind}\">{}</div>", esc(text))
}

pub const CSS: &str = r#"
body{font-family:Arial,Helvetica,sans-serif;margin:0;background:#f3f5f7;color:#222;font-size:14px}
header{background:#1b3a5c;color:#fff;display:flex;align-items:center;padding:0 16px;height:48px}
.brand{font-weight:bold;margin-right:32px}
.tabs a{color:#cfe0f0;text-decoration:none;padding:14px 16px;display:inline-block}
.tabs a.on{background:#f3f5f7;color:#1b3a5c;font-weight:bold}
.logout{margin-left:auto}
.main{display:flex}
.menu{width:220px;background:#e2e8ee;min-height:calc(100vh - 48px);padding-top:8px}
.menu a{display:block;padding:7px 16px;color:#1b3a5c;text-decoration:none}
.menu a.on{background:#fff;font-weight:bold}
main{padding:8px 24px;flex:1;min-width:0}
h1{font-size:20px;color:#1b3a5c}
fieldset{border:1px solid #c8d2dc;margin:0 0 12px;background:#fff}
legend{font-weight:bold;color:#1b3a5c}
.row{display:grid;grid-template-columns:360px 260px 1fr;gap:8px;align-items:center;padding:3px 0;border-bottom:1px solid #eef1f4}
.row input,.row select{max-width:100%;box-sizing:border-box}
.row .k{font-family:monospace;font-size:12px;word-break:break-all}
.row .d{font-size:12px;color:#666}
.row.mod .k{font-weight:bold;color:#0b5394}
.err{color:#b00020;font-weight:bold}
.ok{background:#e6f4ea;border:1px solid #7cbf8c;padding:8px;margin:8px 0}
.warn{background:#fff4ce;border:1px solid #e0b400;padding:8px 16px;font-weight:bold}
.bad{background:#fdecea;border:1px solid #e57373;padding:8px;margin:8px 0}
pre{background:#fff;border:1px solid #c8d2dc;padding:8px;max-height:480px;overflow:auto;font-size:12px}
table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #c8d2dc;padding:4px 8px;text-align:left}
button,input[type=submit]{background:#1b3a5c;color:#fff;border:0;padding:6px 14px;cursor:pointer}
.bare{max-width:420px;margin:80px auto;background:#fff;padding:24px;border:1px solid #c8d2dc}
.bare label{display:block;margin-top:8px}
ul.diags{font-family:monospace}
"#;

pub const JS: &str = r#"
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('form[data-confirm]').forEach(function (f) {
    f.addEventListener('submit', function (e) {
      if (!window.confirm(f.getAttribute('data-confirm'))) { e.preventDefault(); }
    });
  });
  document.querySelectorAll('input[data-autosubmit]').forEach(function (i) {
    i.addEventListener('change', function () { i.form.submit(); });
  });
});
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
