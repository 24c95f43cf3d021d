//! Read-only catalogue: locations, server types, images (used to validate a stack before apply).

use crate::providers::hcloud::ids::{ImageId, LocationId, ServerTypeId};
use crate::providers::hcloud::models::{Image, Location, ServerType};

use super::resource::kind_calls;

kind_calls!(Location, LocationId; list: list_locations, get: get_location);
kind_calls!(ServerType, ServerTypeId; list: list_server_types, get: get_server_type);
kind_calls!(Image, ImageId;
    list:
    /// `GET /images`; filter with `("type", "system")`, `("architecture", "x86")`, `name`...
    list_images,
    get: get_image
);
