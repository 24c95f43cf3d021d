//! Reading request bodies field by field, collecting every problem into one `invalid_input` error.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::labels::label_problems;
use super::model::Labels;

pub struct Body {
    map: Map<String, Value>,
    errors: Vec<(String, Vec<String>)>,
}

impl Body {
    /// Invalid JSON is `json_error` (400); JSON that is not an object is `invalid_input`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::empty());
        }
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::json_error(format!("invalid JSON in request body: {e}")))?;
        match value {
            Value::Object(map) => Ok(Self {
                map,
                errors: Vec::new(),
            }),
            _ => Err(ApiError::invalid_field("body", "must be a JSON object")),
        }
    }

    pub fn empty() -> Self {
        Self {
            map: Map::new(),
            errors: Vec::new(),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.errors.iter_mut().find(|(f, _)| f == field) {
            Some((_, msgs)) => msgs.push(message),
            None => self.errors.push((field.to_owned(), vec![message])),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn required_str(&mut self, key: &str) -> Option<String> {
        let v = self.str(key);
        if v.is_none() && !self.errors.iter().any(|(f, _)| f == key) {
            self.error(key, "is required");
        }
        v
    }

    pub fn str(&mut self, key: &str) -> Option<String> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.error(key, "must be a string");
                None
            }
        }
    }

    /// A reference "by ID or name": the spec types it as a string, and the official clients send IDs as JSON
    /// numbers, which the API accepts. A number comes back as its decimal string.
    pub fn id_or_name(&mut self, key: &str) -> Option<String> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|id| id >= 1) => Some(n.to_string()),
            Some(_) => {
                self.error(key, "must be an ID or a name");
                None
            }
        }
    }

    pub fn required_id_or_name(&mut self, key: &str) -> Option<String> {
        let v = self.id_or_name(key);
        if v.is_none() && !self.errors.iter().any(|(f, _)| f == key) {
            self.error(key, "is required");
        }
        v
    }

    pub fn bool(&mut self, key: &str) -> Option<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(key, "must be a boolean");
                None
            }
        }
    }

    pub fn required_bool(&mut self, key: &str) -> Option<bool> {
        let v = self.bool(key);
        if v.is_none() && !self.errors.iter().any(|(f, _)| f == key) {
            self.error(key, "is required");
        }
        v
    }

    pub fn int(&mut self, key: &str) -> Option<u64> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) => Some(n),
                None => {
                    self.error(key, "must be a positive integer");
                    None
                }
            },
        }
    }

    pub fn required_int(&mut self, key: &str) -> Option<u64> {
        let v = self.int(key);
        if v.is_none() && !self.errors.iter().any(|(f, _)| f == key) {
            self.error(key, "is required");
        }
        v
    }

    /// An array that must be present: absent (or null) is reported as required, and the
    /// caller goes on with an empty one so every other field is still checked.
    pub fn required_array(&mut self, key: &str) -> Vec<Value> {
        let v = self.array(key);
        if v.is_none() && !self.errors.iter().any(|(f, _)| f == key) {
            self.error(key, "is required");
        }
        v.unwrap_or_default()
    }

    pub fn array(&mut self, key: &str) -> Option<Vec<Value>> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(_) => {
                self.error(key, "must be an array");
                None
            }
        }
    }

    pub fn object(&mut self, key: &str) -> Option<Map<String, Value>> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(o.clone()),
            Some(_) => {
                self.error(key, "must be an object");
                None
            }
        }
    }

    /// A label map, checked against the spec's key and value rules.
    pub fn labels(&mut self, key: &str) -> Option<Labels> {
        let obj = self.object(key)?;
        let mut labels = Labels::new();
        for (k, v) in obj {
            match v {
                Value::String(s) => {
                    labels.insert(k, s);
                }
                _ => self.error(key, format!("value of label `{k}` must be a string")),
            }
        }
        for problem in label_problems(&labels) {
            self.error(key, problem);
        }
        Some(labels)
    }

    /// For schemas with `additionalProperties: false`.
    pub fn deny_unknown(&mut self, allowed: &[&str]) {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            self.error(&k, "is not allowed");
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.errors))
        }
    }

    pub fn errors_len(&self) -> usize {
        self.errors.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem() {
        let mut b =
            Body::parse(br#"{"name": 3, "labels": {"bad key": "v"}, "size": -1, "x": 1}"#).unwrap();
        b.required_str("name");
        b.required_str("image");
        b.labels("labels");
        b.int("size");
        b.deny_unknown(&["name", "labels", "size", "image"]);
        let e = b.finish().unwrap_err();
        assert_eq!(e.code, "invalid_input");
        assert_eq!(e.status.as_u16(), 422);
        let names: Vec<_> = e.details["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["name", "image", "labels", "size", "x"]);
    }

    #[test]
    fn ids_or_names_accept_numbers_and_strings() {
        let mut b = Body::parse(
            br#"{"a": 22, "b": "cpx22", "c": "22", "d": 0, "e": 1.5, "f": true, "g": null}"#,
        )
        .unwrap();
        assert_eq!(b.id_or_name("a").as_deref(), Some("22"));
        assert_eq!(b.id_or_name("b").as_deref(), Some("cpx22"));
        assert_eq!(b.id_or_name("c").as_deref(), Some("22"));
        for bad in ["d", "e", "f"] {
            assert_eq!(b.id_or_name(bad), None);
        }
        assert_eq!(b.required_id_or_name("g"), None);
        let e = b.finish().unwrap_err();
        let names: Vec<_> = e.details["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["d", "e", "f", "g"]);
    }

    #[test]
    fn bad_json_is_json_error() {
        assert_eq!(Body::parse(b"{").err().unwrap().code, "json_error");
        assert_eq!(Body::parse(b"[1]").err().unwrap().code, "invalid_input");
        assert!(Body::parse(b"  ").is_ok());
    }
}
