//! A typed view of a configuration: every parameter of a model with its value in effect,
//! from the document where it is set and valid, from the model's defaults otherwise.

use std::collections::HashMap;

use crate::document::Document;
use crate::model::Model;
use crate::schema::{Lookup, ParamDef, ParamType, Schema};
use crate::validate::{self, Diagnostic, Severity};
use crate::value::int_value;

/// A typed parameter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Bool(bool),
    Int(i64),
    /// Enum, string, address, URL, time, list or password text (as written in the file).
    Text(&'a str),
}

impl<'a> Value<'a> {
    fn of(def: &ParamDef, raw: &'a str) -> Option<Value<'a>> {
        match def.ty {
            ParamType::Bool => match raw {
                "0" => Some(Value::Bool(false)),
                "1" => Some(Value::Bool(true)),
                _ => None,
            },
            ParamType::Int => int_value(raw).map(Value::Int),
            _ => Some(Value::Text(raw)),
        }
    }
}

/// Errors of [`Config::from_document`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the configuration has {} error(s); first: {}", .0.len(), .0.first().map(|d| d.to_string()).unwrap_or_default())]
pub struct ConfigErrors(pub Vec<Diagnostic>);

/// The configuration of one phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    model: Model,
    /// Explicit, valid values by concrete key.
    explicit: HashMap<String, (&'static ParamDef, String)>,
}

impl Config {
    /// The factory configuration of a model.
    pub fn defaults(model: Model) -> Config {
        Config {
            model,
            explicit: HashMap::new(),
        }
    }

    /// Builds the view; any error diagnostic (warnings are fine) rejects the document.
    pub fn from_document(doc: &Document<'_>, model: Model) -> Result<Config, ConfigErrors> {
        let (cfg, diags) = Config::from_document_lenient(doc, model);
        let errors: Vec<Diagnostic> = diags
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Builds the view keeping what is valid: invalid values fall back to the default, unknown
    /// keys are ignored (as the phone does); the diagnostics say what was dropped.
    pub fn from_document_lenient(doc: &Document<'_>, model: Model) -> (Config, Vec<Diagnostic>) {
        let diags = validate::validate(doc, &validate::Options::for_model(Some(model)));
        let bad_lines: std::collections::HashSet<usize> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.line)
            .collect();
        let schema = Schema::get();
        let mut explicit = HashMap::new();
        for e in doc.entries() {
            if bad_lines.contains(&e.line) {
                continue;
            }
            if let Lookup::Found(def, _) = schema.lookup(e.key, Some(model)) {
                let value = match def.ty {
                    // Accept the enum-case warning by storing the canonical spelling.
                    ParamType::Enum => def
                        .values
                        .iter()
                        .find(|v| v.eq_ignore_ascii_case(e.value))
                        .map_or(e.value, |v| v)
                        .to_string(),
                    _ => e.value.to_string(),
                };
                explicit.insert(e.key.to_string(), (def, value));
            }
        }
        (Config { model, explicit }, diags)
    }

    pub fn model(&self) -> Model {
        self.model
    }

    /// The value in effect for a concrete key, or `None` if the key is no parameter of this model.
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        if let Some((def, v)) = self.explicit.get(key) {
            return Value::of(def, v);
        }
        match Schema::get().lookup(key, Some(self.model)) {
            Lookup::Found(def, idx) => {
                Value::of(def, def.default_for(Some(self.model), idx.as_slice()))
            }
            _ => None,
        }
    }

    /// The raw text in effect for a key.
    pub fn get_raw(&self, key: &str) -> Option<&str> {
        if let Some((_, v)) = self.explicit.get(key) {
            return Some(v);
        }
        match Schema::get().lookup(key, Some(self.model)) {
            Lookup::Found(def, idx) => Some(def.default_for(Some(self.model), idx.as_slice())),
            _ => None,
        }
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn get_int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// `true` if the key is set explicitly (even to its default value).
    pub fn is_explicit(&self, key: &str) -> bool {
        self.explicit.contains_key(key)
    }

    /// Sets a value after validating it for this model.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigErrors> {
        let line = format!("{key}={value}");
        let doc = Document::parse(&line).map_err(|e| {
            ConfigErrors(vec![Diagnostic {
                line: 1,
                column: 1,
                severity: Severity::Error,
                kind: validate::DiagKind::Syntax,
                message: e.to_string(),
            }])
        })?;
        let mut opts = validate::Options::for_model(Some(self.model));
        opts.strict_unknown = true;
        let errs: Vec<Diagnostic> = validate::validate(&doc, &opts)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        if let Lookup::Found(def, _) = Schema::get().lookup(key, Some(self.model)) {
            self.explicit
                .insert(key.to_string(), (def, value.to_string()));
        }
        Ok(())
    }

    /// The explicit settings as a document, in key order, with a model header.
    pub fn to_document(&self) -> Document<'static> {
        let mut doc = Document::new();
        doc.append_comment(&crate::document::model_header(&[self.model]));
        let mut keys: Vec<&String> = self.explicit.keys().collect();
        keys.sort();
        for k in keys {
            // Keys and values were validated on the way in.
            let _ = doc.append(k, &self.explicit[k].1);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_and_defaults() {
        let doc =
            Document::parse("network/lan_type=STATIC\nvoip/codec/codec_info/0/name=nonsense\n")
                .unwrap();
        assert!(Config::from_document(&doc, Model::Hd440).is_err());
        let (cfg, diags) = Config::from_document_lenient(&doc, Model::Hd440);
        assert_eq!(diags.len(), 1);
        assert_eq!(cfg.get_str("network/lan_type"), Some("STATIC"));
        assert!(cfg.is_explicit("network/lan_type"));
        // The invalid codec name falls back to the default.
        assert!(!cfg.is_explicit("voip/codec/codec_info/0/name"));
        assert!(cfg.get_str("voip/codec/codec_info/0/name").is_some());
        assert_eq!(cfg.get("no/such/key"), None);
    }

    #[test]
    fn set_validates() {
        let mut cfg = Config::defaults(Model::Hd420);
        assert!(cfg.set("network/lan_type", "BOGUS").is_err());
        assert!(cfg.set("no/such/key", "1").is_err());
        cfg.set("network/lan_type", "STATIC").unwrap();
        assert_eq!(cfg.get_raw("network/lan_type"), Some("STATIC"));
        let doc = cfg.to_document();
        assert_eq!(doc.get("network/lan_type"), Some("STATIC"));
        assert_eq!(Config::from_document(&doc, Model::Hd420).unwrap(), cfg);
    }
}
