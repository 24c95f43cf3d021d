//! Desired x prior state x refreshed actual -> `Plan`, and its text/JSON renderers.
