//! Timestamps. The spec's examples use `2016-01-30T23:55:00Z`; older fixtures use `+00:00` offsets and
//! even `2016-01-30T23:50+00:00` without seconds. All three parse; output is always RFC 3339 UTC.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub type Timestamp = DateTime<Utc>;

/// Parses any of the timestamp forms the API has been seen to send.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::<FixedOffset>::parse_from_str(s, "%Y-%m-%dT%H:%M%:z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let raw = String::deserialize(d)?;
    parse_timestamp(&raw)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp `{raw}`")))
}

/// The same for nullable timestamps.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(raw) => parse_timestamp(&raw)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp `{raw}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_three_forms() {
        let z = parse_timestamp("2016-01-30T23:50:00Z").unwrap();
        assert_eq!(parse_timestamp("2016-01-30T23:50:00+00:00"), Some(z));
        assert_eq!(parse_timestamp("2016-01-30T23:50+00:00"), Some(z));
        assert_eq!(
            parse_timestamp("2016-01-31T01:50:00+02:00"),
            Some(z),
            "offsets are normalised to UTC"
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
