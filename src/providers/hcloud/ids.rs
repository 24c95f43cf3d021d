//! Typed IDs, so a volume ID cannot be passed where a server ID is expected. On the wire they are
//! plain integers (int64, 1..=2^53-1 per the spec).

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<u64> for $name {
            fn from(id: u64) -> Self {
                Self(id)
            }
        }
    )*};
}

id_type!(
    /// ID of an action.
    ActionId,
    /// ID of a server.
    ServerId,
    /// ID of an SSH key.
    SshKeyId,
    /// ID of a firewall.
    FirewallId,
    /// ID of a volume.
    VolumeId,
    /// ID of a location.
    LocationId,
    /// ID of a server type.
    ServerTypeId,
    /// ID of an image.
    ImageId,
    /// ID of a primary IP.
    PrimaryIpId,
);
