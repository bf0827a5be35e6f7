//! Validation of a document against the schema, with line and column for every problem.

use std::fmt;

use crate::document::{Document, LineKind};
use crate::model::Model;
use crate::schema::{FastMap, Lookup, Schema};
use crate::value::{check, ValueProblem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

/// What kind of problem a diagnostic reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiagKind {
    /// A line that is not blank, a comment or `key=value`.
    Syntax,
    /// A key that is no parameter of the manual (kept in the file, ignored by the phone).
    UnknownKey,
    /// A parameter of other models only (e.g. a 450HD programmable key on a 430HD).
    WrongModel,
    /// An indexed family exists but not with this index.
    IndexOutOfRange,
    /// A value of the wrong type (not a number, not an address, ...).
    BadValue,
    /// A number outside the parameter's range.
    OutOfRange,
    /// A value that is not one of the enum's values.
    BadEnum,
    /// An enum value in the wrong letter case.
    EnumCase,
    /// A string longer than the parameter allows.
    TooLong,
    /// A key set on more than one line (the last wins).
    Duplicate,
    /// The file's `# model:` header names other models.
    ModelMismatch,
}

impl DiagKind {
    pub fn name(self) -> &'static str {
        match self {
            DiagKind::Syntax => "syntax",
            DiagKind::UnknownKey => "unknown-key",
            DiagKind::WrongModel => "wrong-model",
            DiagKind::IndexOutOfRange => "index-out-of-range",
            DiagKind::BadValue => "bad-value",
            DiagKind::OutOfRange => "out-of-range",
            DiagKind::BadEnum => "bad-enum",
            DiagKind::EnumCase => "enum-case",
            DiagKind::TooLong => "too-long",
            DiagKind::Duplicate => "duplicate",
            DiagKind::ModelMismatch => "model-mismatch",
        }
    }
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub severity: Severity,
    pub kind: DiagKind,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {sev}[{}]: {}",
            self.line,
            self.column,
            self.kind.name(),
            self.message
        )
    }
}

/// What to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Check against this model: per-model ranges, defaults and key sets. `None` accepts a key
    /// of any model.
    pub model: Option<Model>,
    /// Report unknown keys as errors rather than warnings.
    pub strict_unknown: bool,
}

impl Options {
    pub fn for_model(model: Option<Model>) -> Options {
        Options {
            model,
            strict_unknown: false,
        }
    }
}

const MAX_SUGGESTIONS: usize = 32;

/// Validates a document; diagnostics come in line order. Never panics.
pub fn validate(doc: &Document<'_>, opts: &Options) -> Vec<Diagnostic> {
    let schema = Schema::get();
    let mut out = Vec::new();
    if let (Some(m), Some(declared)) = (opts.model, doc.declared_models()) {
        if !declared.contains(m) {
            let line = doc
                .lines()
                .iter()
                .position(|l| l.kind() == &LineKind::Comment && l.text().contains("model"))
                .map_or(1, |p| p + 1);
            out.push(Diagnostic {
                line,
                column: 1,
                severity: Severity::Error,
                kind: DiagKind::ModelMismatch,
                message: format!("this file is for {declared}, not {m} (manual 8.7.2)"),
            });
        }
    }
    // First line of each key, to report duplicates at the later lines.
    // "Did you mean" costs an edit distance against every parameter: bounded per file so that
    // a file of unknown keys stays linear.
    let mut suggestions_left = MAX_SUGGESTIONS;
    let mut first_seen: FastMap<&str, usize> =
        FastMap::with_capacity_and_hasher(doc.len(), Default::default());
    for (i, line) in doc.lines().iter().enumerate() {
        let n = i + 1;
        match line.kind() {
            LineKind::Blank | LineKind::Comment => {}
            LineKind::Invalid(reason) => {
                let column = match reason {
                    crate::document::InvalidReason::BadKey { column } => *column,
                    _ => {
                        let t = line.text();
                        crate::document::column_of(t, t.len() - t.trim_start().len())
                    }
                };
                out.push(Diagnostic {
                    line: n,
                    column,
                    severity: Severity::Error,
                    kind: DiagKind::Syntax,
                    message: reason.to_string(),
                });
            }
            LineKind::Entry { key: kr, value: vr } => {
                let text = line.text();
                let key = &text[kr.start as usize..kr.end as usize];
                let value = &text[vr.start as usize..vr.end as usize];
                // Columns are counted only when a diagnostic needs them.
                let key_col = || crate::document::column_of(text, kr.start as usize);
                let val_col = || crate::document::column_of(text, vr.start as usize);
                if let Some(first) = first_seen.get(key) {
                    out.push(Diagnostic {
                        line: n,
                        column: key_col(),
                        severity: Severity::Warning,
                        kind: DiagKind::Duplicate,
                        message: format!("{key} is already set on line {first}; this line wins"),
                    });
                } else {
                    first_seen.insert(key, n);
                }
                check_entry(
                    schema,
                    opts,
                    key,
                    value,
                    n,
                    key_col,
                    val_col,
                    &mut suggestions_left,
                    &mut out,
                );
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn check_entry(
    schema: &Schema,
    opts: &Options,
    key: &str,
    value: &str,
    line: usize,
    key_col: impl Fn() -> usize,
    val_col: impl Fn() -> usize,
    suggestions_left: &mut usize,
    out: &mut Vec<Diagnostic>,
) {
    let at = |column, severity, kind, message| Diagnostic {
        line,
        column,
        severity,
        kind,
        message,
    };
    let def = match schema.lookup(key, opts.model) {
        Lookup::Found(def, _) => def,
        Lookup::WrongModel(def, _) => {
            out.push(at(
                key_col(),
                Severity::Error,
                DiagKind::WrongModel,
                format!(
                    "{key} applies to {} only, not {}",
                    def.models,
                    opts.model.map_or("this model", |m| m.name())
                ),
            ));
            return;
        }
        Lookup::IndexOutOfRange(def) => {
            let ranges: Vec<String> = def
                .index_ranges()
                .map(|(lo, hi)| format!("{lo}-{hi}"))
                .collect();
            out.push(at(
                key_col(),
                Severity::Error,
                DiagKind::IndexOutOfRange,
                format!(
                    "{key}: index out of range for {} (indices {})",
                    def.key,
                    ranges.join(", ")
                ),
            ));
            return;
        }
        Lookup::Unknown => {
            let hint = if *suggestions_left > 0 {
                *suggestions_left -= 1;
                schema
                    .suggest(key)
                    .map(|k| format!("; did you mean {k}?"))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            out.push(at(
                key_col(),
                if opts.strict_unknown {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                DiagKind::UnknownKey,
                format!("{key} is not a parameter of the manual{hint}"),
            ));
            return;
        }
    };
    let problem = match check(def, opts.model, value) {
        Ok(()) => return,
        Err(p) => p,
    };
    let d = match problem {
        ValueProblem::Type(expected) => at(
            val_col(),
            Severity::Error,
            DiagKind::BadValue,
            format!("{key}: {value:?} is not {expected}"),
        ),
        ValueProblem::OutOfRange { min, max } => {
            let fmt_bound = |b: Option<i64>| b.map_or_else(|| "..".to_string(), |v| v.to_string());
            at(
                val_col(),
                Severity::Error,
                DiagKind::OutOfRange,
                format!(
                    "{key}: {value} is outside {}..{}{}",
                    fmt_bound(min),
                    fmt_bound(max),
                    opts.model.map(|m| format!(" on {m}")).unwrap_or_default()
                ),
            )
        }
        ValueProblem::BadEnum => at(
            val_col(),
            Severity::Error,
            DiagKind::BadEnum,
            format!("{key}: {value:?} is not one of {}", def.values.join(", ")),
        ),
        ValueProblem::EnumCase(v) => at(
            val_col(),
            Severity::Warning,
            DiagKind::EnumCase,
            format!("{key}: write {v}, not {value}"),
        ),
        ValueProblem::TooLong(max) => at(
            val_col(),
            Severity::Error,
            DiagKind::TooLong,
            format!("{key}: longer than {max} characters"),
        ),
    };
    out.push(d);
}

/// `true` if any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}
