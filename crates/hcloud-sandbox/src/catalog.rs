//! The read-only catalogs: locations, server types and images.
//!
//! Location facts (names, countries, network zones, cities) are the ones in Hetzner's docs and fixtures; ash, hil and
//! sin exist so that EU-only policy can be tested against real non-EU answers. Server-type sizes follow Hetzner's
//! published lines; prices are plausible simulator values, not a price list.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub id: u64,
    pub name: &'static str,
    pub description: &'static str,
    pub country: &'static str,
    pub city: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    pub network_zone: &'static str,
}

pub const LOCATIONS: &[Location] = &[
    Location {
        id: 1,
        name: "fsn1",
        description: "Falkenstein DC Park 1",
        country: "DE",
        city: "Falkenstein",
        latitude: 50.47612,
        longitude: 12.370071,
        network_zone: "eu-central",
    },
    Location {
        id: 2,
        name: "nbg1",
        description: "Nuremberg DC Park 1",
        country: "DE",
        city: "Nuremberg",
        latitude: 49.452102,
        longitude: 11.076665,
        network_zone: "eu-central",
    },
    Location {
        id: 3,
        name: "hel1",
        description: "Helsinki DC Park 1",
        country: "FI",
        city: "Helsinki",
        latitude: 60.169855,
        longitude: 24.938379,
        network_zone: "eu-central",
    },
    Location {
        id: 4,
        name: "ash",
        description: "Ashburn, VA",
        country: "US",
        city: "Ashburn, VA",
        latitude: 39.045821,
        longitude: -77.487073,
        network_zone: "us-east",
    },
    Location {
        id: 5,
        name: "hil",
        description: "Hillsboro, OR",
        country: "US",
        city: "Hillsboro, OR",
        latitude: 45.54222,
        longitude: -122.951924,
        network_zone: "us-west",
    },
    Location {
        id: 6,
        name: "sin",
        description: "Singapore",
        country: "SG",
        city: "Singapore",
        latitude: 1.283333,
        longitude: 103.833333,
        network_zone: "ap-southeast",
    },
];

const EU: &[&str] = &["fsn1", "nbg1", "hel1"];
const ALL: &[&str] = &["fsn1", "nbg1", "hel1", "ash", "hil", "sin"];

#[derive(Debug, Clone, PartialEq)]
pub struct ServerType {
    pub id: u64,
    pub name: &'static str,
    pub cores: u32,
    pub memory_gb: f64,
    pub disk_gb: u32,
    pub cpu_type: &'static str,
    pub architecture: &'static str,
    pub category: &'static str,
    /// Monthly net price in EUR.
    pub monthly_eur: f64,
    pub locations: &'static [&'static str],
}

macro_rules! st {
    ($id:expr, $name:expr, $cores:expr, $mem:expr, $disk:expr, $cpu:expr, $arch:expr, $cat:expr, $eur:expr, $locs:expr) => {
        ServerType {
            id: $id,
            name: $name,
            cores: $cores,
            memory_gb: $mem,
            disk_gb: $disk,
            cpu_type: $cpu,
            architecture: $arch,
            category: $cat,
            monthly_eur: $eur,
            locations: $locs,
        }
    };
}

pub const SERVER_TYPES: &[ServerType] = &[
    st!(
        22,
        "cx23",
        2,
        4.0,
        40,
        "shared",
        "x86",
        "cost_optimized",
        3.79,
        EU
    ),
    st!(
        23,
        "cx33",
        4,
        8.0,
        80,
        "shared",
        "x86",
        "cost_optimized",
        6.80,
        EU
    ),
    st!(
        24,
        "cx43",
        8,
        16.0,
        160,
        "shared",
        "x86",
        "cost_optimized",
        16.40,
        EU
    ),
    st!(
        25,
        "cx53",
        16,
        32.0,
        320,
        "shared",
        "x86",
        "cost_optimized",
        32.40,
        EU
    ),
    st!(
        108,
        "cpx12",
        1,
        2.0,
        40,
        "shared",
        "x86",
        "regular_purpose",
        4.49,
        ALL
    ),
    st!(
        109,
        "cpx22",
        2,
        4.0,
        80,
        "shared",
        "x86",
        "regular_purpose",
        7.99,
        ALL
    ),
    st!(
        110,
        "cpx32",
        4,
        8.0,
        160,
        "shared",
        "x86",
        "regular_purpose",
        13.99,
        ALL
    ),
    st!(
        111,
        "cpx42",
        8,
        16.0,
        320,
        "shared",
        "x86",
        "regular_purpose",
        25.49,
        ALL
    ),
    st!(
        112,
        "cpx52",
        12,
        24.0,
        480,
        "shared",
        "x86",
        "regular_purpose",
        36.49,
        ALL
    ),
    st!(
        45,
        "cax11",
        2,
        4.0,
        40,
        "shared",
        "arm",
        "cost_optimized",
        3.79,
        EU
    ),
    st!(
        93,
        "cax21",
        4,
        8.0,
        80,
        "shared",
        "arm",
        "cost_optimized",
        6.49,
        EU
    ),
    st!(
        94,
        "cax31",
        8,
        16.0,
        160,
        "shared",
        "arm",
        "cost_optimized",
        12.49,
        EU
    ),
    st!(
        96,
        "ccx13",
        2,
        8.0,
        80,
        "dedicated",
        "x86",
        "general_purpose",
        12.49,
        ALL
    ),
    st!(
        97,
        "ccx23",
        4,
        16.0,
        160,
        "dedicated",
        "x86",
        "general_purpose",
        24.49,
        ALL
    ),
    st!(
        98,
        "ccx33",
        8,
        32.0,
        240,
        "dedicated",
        "x86",
        "general_purpose",
        48.49,
        ALL
    ),
    st!(
        99,
        "ccx43",
        16,
        64.0,
        360,
        "dedicated",
        "x86",
        "general_purpose",
        96.49,
        ALL
    ),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: u64,
    pub name: &'static str,
    pub description: &'static str,
    pub os_flavor: &'static str,
    pub os_version: &'static str,
    pub architecture: &'static str,
    pub created: &'static str,
}

pub const IMAGES: &[Image] = &[
    Image {
        id: 67794396,
        name: "ubuntu-22.04",
        description: "Ubuntu 22.04",
        os_flavor: "ubuntu",
        os_version: "22.04",
        architecture: "x86",
        created: "2022-04-21T13:32:38Z",
    },
    Image {
        id: 161547269,
        name: "ubuntu-24.04",
        description: "Ubuntu 24.04",
        os_flavor: "ubuntu",
        os_version: "24.04",
        architecture: "x86",
        created: "2024-04-25T13:26:00Z",
    },
    Image {
        id: 161547270,
        name: "ubuntu-24.04",
        description: "Ubuntu 24.04",
        os_flavor: "ubuntu",
        os_version: "24.04",
        architecture: "arm",
        created: "2024-04-25T13:26:00Z",
    },
    Image {
        id: 114690387,
        name: "debian-12",
        description: "Debian 12",
        os_flavor: "debian",
        os_version: "12",
        architecture: "x86",
        created: "2023-06-13T06:00:02Z",
    },
    Image {
        id: 114690389,
        name: "debian-12",
        description: "Debian 12",
        os_flavor: "debian",
        os_version: "12",
        architecture: "arm",
        created: "2023-06-13T06:00:02Z",
    },
    Image {
        id: 240000001,
        name: "debian-13",
        description: "Debian 13",
        os_flavor: "debian",
        os_version: "13",
        architecture: "x86",
        created: "2025-08-12T08:00:00Z",
    },
    Image {
        id: 76766499,
        name: "rocky-9",
        description: "Rocky Linux 9",
        os_flavor: "rocky",
        os_version: "9",
        architecture: "x86",
        created: "2022-07-14T10:00:00Z",
    },
];

pub fn location(id_or_name: &str) -> Option<&'static Location> {
    LOCATIONS
        .iter()
        .find(|l| l.name == id_or_name || l.id.to_string() == id_or_name)
}

pub fn location_by_name(name: &str) -> Option<&'static Location> {
    LOCATIONS.iter().find(|l| l.name == name)
}

pub fn server_type(id_or_name: &str) -> Option<&'static ServerType> {
    SERVER_TYPES
        .iter()
        .find(|t| t.name == id_or_name || t.id.to_string() == id_or_name)
}

/// Images are looked up by ID, or by name for the architecture of the server type, as the API does.
pub fn image(id_or_name: &str, architecture: &str) -> Option<&'static Image> {
    IMAGES.iter().find(|i| {
        i.id.to_string() == id_or_name || (i.name == id_or_name && i.architecture == architecture)
    })
}

pub fn image_by_id(id: u64) -> Option<&'static Image> {
    IMAGES.iter().find(|i| i.id == id)
}

impl Location {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "description": self.description, "country": self.country,
            "city": self.city, "latitude": self.latitude, "longitude": self.longitude,
            "network_zone": self.network_zone,
        })
    }
}

fn price(net: f64) -> Value {
    json!({"net": format!("{net:.4}"), "gross": format!("{:.4}", net * 1.19)})
}

impl ServerType {
    pub fn to_json(&self) -> Value {
        // US and Singapore are priced higher and include less traffic, as on Hetzner's price list.
        let prices: Vec<Value> = self
            .locations
            .iter()
            .map(|loc| {
                let eu = EU.contains(loc);
                let monthly = if eu {
                    self.monthly_eur
                } else {
                    self.monthly_eur * 1.2
                };
                let tb: u64 = if eu { 20 } else { 1 };
                json!({
                    "location": loc,
                    "price_hourly": price(monthly / 730.0),
                    "price_monthly": price(monthly),
                    "included_traffic": tb * 1_099_511_627_776u64,
                    "price_per_tb_traffic": price(if eu { 1.0 } else { 7.2 }),
                })
            })
            .collect();
        let locations: Vec<Value> = self
            .locations
            .iter()
            .filter_map(|n| location_by_name(n))
            .map(|l| json!({"id": l.id, "name": l.name, "deprecation": null, "recommended": EU.contains(&l.name), "available": true}))
            .collect();
        json!({
            "id": self.id, "name": self.name, "description": self.name.to_uppercase(),
            "cores": self.cores, "memory": self.memory_gb, "disk": self.disk_gb, "deprecated": false,
            "prices": prices, "storage_type": "local", "cpu_type": self.cpu_type, "category": self.category,
            "architecture": self.architecture, "deprecation": null, "locations": locations,
        })
    }

    pub fn included_traffic(&self, location: &str) -> u64 {
        (if EU.contains(&location) { 20 } else { 1 }) * 1_099_511_627_776u64
    }
}

impl Image {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "type": "system", "status": "available", "name": self.name,
            "description": self.description, "image_size": null, "disk_size": 5, "created": self.created,
            "created_from": null, "bound_to": null, "os_flavor": self.os_flavor, "os_version": self.os_version,
            "rapid_deploy": true, "protection": {"delete": false}, "deprecated": null, "deleted": null,
            "labels": {}, "architecture": self.architecture,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_id_and_name() {
        assert_eq!(location("fsn1").map(|l| l.country), Some("DE"));
        assert_eq!(location("3").map(|l| l.name), Some("hel1"));
        assert_eq!(server_type("cpx22").map(|t| t.cores), Some(2));
        assert_eq!(image("ubuntu-24.04", "arm").map(|i| i.id), Some(161547270));
        assert_eq!(
            image("161547269", "arm").map(|i| i.architecture),
            Some("x86")
        );
        assert!(image("debian-13", "arm").is_none());
    }

    #[test]
    fn every_type_and_image_name_resolves_consistently() {
        for t in SERVER_TYPES {
            assert!(t.locations.iter().all(|l| location_by_name(l).is_some()));
        }
        let mut ids: Vec<_> = SERVER_TYPES.iter().map(|t| t.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), SERVER_TYPES.len());
    }
}
