//! SSH transport: host-key pinning, exec, atomic upload.
