//! Which answer an HTTP request to the metrics endpoint gets, decided from
//! its method and path alone: no I/O, only `std`, so the fuzz target
//! (`fuzz/fuzz_targets/metrics_request.rs`, which includes this file by
//! path) runs the same code behind hyper's parser.

/// The most a client can make hyper buffer for one request head.
pub const MAX_HEAD_BYTES: usize = 8192;

/// The answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics`: the exposition, built from the protocol loop's status.
    Metrics,
    /// A `GET` of any other path.
    NotFound,
    /// Any other method.
    MethodNotAllowed,
}

/// The route for a request line's method and the path of its target.
pub fn route(method: &str, path: &str) -> Route {
    match (method, path) {
        ("GET", "/metrics") => Route::Metrics,
        ("GET", _) => Route::NotFound,
        _ => Route::MethodNotAllowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_of_metrics_is_served() {
        assert_eq!(route("GET", "/metrics"), Route::Metrics);
        assert_eq!(route("GET", "/metrics/"), Route::NotFound);
        assert_eq!(route("GET", ""), Route::NotFound);
        assert_eq!(route("POST", "/metrics"), Route::MethodNotAllowed);
        assert_eq!(route("get", "/metrics"), Route::MethodNotAllowed);
    }
}
