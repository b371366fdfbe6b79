//! Opaque identifiers: UUIDv7, so ids sort by creation time and serve as list cursors.

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn looks_like_id(value: &str) -> bool {
    uuid::Uuid::parse_str(value).is_ok()
}
