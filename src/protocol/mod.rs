//! Pure VRRP protocol core (being written).
