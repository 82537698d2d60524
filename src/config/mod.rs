//! Pure configuration (being written).
