//! Documentation generated from the schema: `docs/parameters.md` and the JSON of
//! `ac-cfgtool schema --json`.

use serde_json::{json, Value};

use crate::model::Model;
use crate::schema::{ParamDef, ParamType, Schema};

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn range_text(p: &ParamDef) -> String {
    let mut parts = Vec::new();
    match p.ty {
        ParamType::Enum => parts.push(
            p.values
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ParamType::Int => parts.push(format!(
            "{}..{}",
            p.min.map_or_else(String::new, |v| v.to_string()),
            p.max.map_or_else(String::new, |v| v.to_string())
        )),
        ParamType::Bool => parts.push("`0`, `1`".into()),
        _ => {}
    }
    if let Some(l) = p.max_len {
        parts.push(format!("max {l} chars"));
    }
    for o in p.per_model {
        let mut t = format!("{}:", o.model);
        if let Some(d) = o.default {
            t.push_str(&format!(" default `{d}`"));
        }
        if o.min.is_some() || o.max.is_some() {
            t.push_str(&format!(
                " {}..{}",
                o.min.map_or_else(String::new, |v| v.to_string()),
                o.max.map_or_else(String::new, |v| v.to_string())
            ));
        }
        parts.push(t);
    }
    parts.join("; ")
}

fn default_text(p: &ParamDef) -> String {
    let mut t = format!("`{}`", p.default);
    if !p.index_defaults.is_empty() {
        let per: Vec<String> = p
            .index_defaults
            .iter()
            .map(|(i, d)| format!("{i}: `{d}`"))
            .collect();
        t = format!("{t} ({})", per.join(", "));
    }
    t
}

/// The Markdown reference of every parameter (the content of `docs/parameters.md`).
pub fn parameters_markdown() -> String {
    let s = Schema::get();
    let params = s.params();
    let concrete: usize = params.iter().map(ParamDef::concrete_count).sum();
    let mut out = String::new();
    out.push_str("# Configuration parameters\n\n");
    out.push_str(
        "Generated from `crates/ac-cfg/schema/params.toml` by `ac-cfgtool schema --markdown`; \
         do not edit (a test fails when this file is stale). Regenerate with\n\
         `cargo run -p ac-cfg --bin ac-cfgtool -- schema --markdown > docs/parameters.md`.\n\n",
    );
    out.push_str(&format!(
        "{} definitions, {} concrete parameters. `{{i}}` marks an indexed segment; \"Section\" is the \
         section of the administrator manual.\n\n",
        params.len(),
        concrete
    ));
    let mut group = "";
    for p in params {
        let top = p.key.split('/').next().unwrap_or("");
        if top != group {
            group = top;
            out.push_str(&format!("\n## `{group}/`\n\n"));
            out.push_str("| Parameter | Type | Default | Values / range | Models | Section | Description |\n");
            out.push_str("|---|---|---|---|---|---|---|\n");
        }
        let mut key = format!("`{}`", p.key);
        let ranges: Vec<String> = p
            .index_ranges()
            .map(|(lo, hi)| format!("{lo}-{hi}"))
            .collect();
        if !ranges.is_empty() {
            key.push_str(&format!(" ({})", ranges.join(", ")));
        }
        let mut desc = md_escape(p.desc);
        if let Some(n) = p.note {
            desc.push_str(&format!(" *Note: {}*", md_escape(n)));
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            key,
            p.ty.name(),
            md_escape(&default_text(p)),
            md_escape(&range_text(p)),
            p.models,
            p.section,
            desc
        ));
    }
    out
}

/// One JSON object per concrete parameter for `model` (or for every model with `None`), in
/// manual order: `{"key", "default", "type", "values"?, "min"?, "max"?, "models", "section",
/// "description"}`.
pub fn schema_json(model: Option<Model>) -> Vec<Value> {
    let mut out = Vec::new();
    for p in Schema::get().params() {
        if model.is_some_and(|m| !p.applies_to(m)) {
            continue;
        }
        for (key, idx) in p.expand() {
            let (min, max) = p.range_for(model);
            let mut o = json!({
                "key": key,
                "default": p.default_for(model, idx.as_slice()),
                "type": p.ty.name(),
                "models": p.models.iter().map(|m| m.name()).collect::<Vec<_>>(),
                "section": p.section,
                "description": p.desc,
                "pattern": p.key,
            });
            if let Some(map) = o.as_object_mut() {
                if !p.values.is_empty() {
                    map.insert("values".into(), json!(p.values));
                }
                if let Some(v) = min {
                    map.insert("min".into(), json!(v));
                }
                if let Some(v) = max {
                    map.insert("max".into(), json!(v));
                }
                if let Some(v) = p.max_len {
                    map.insert("max_len".into(), json!(v));
                }
                if model.is_none() && !p.per_model.is_empty() {
                    let per: serde_json::Map<String, Value> = p
                        .per_model
                        .iter()
                        .map(|o| {
                            (
                                o.model.name().to_string(),
                                json!({"default": o.default, "min": o.min, "max": o.max}),
                            )
                        })
                        .collect();
                    map.insert("per_model".into(), Value::Object(per));
                }
            }
            out.push(o);
        }
    }
    out
}
