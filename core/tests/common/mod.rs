//! Fixtures shared by the protocol tests: virtual router 51 on
//! 192.0.2.0/24 (or 2001:db8::/32), advertising every second, and a virtual
//! clock counted in seconds.

// Each test file is its own crate and uses only part of this.
#![allow(dead_code)]

use std::net::IpAddr;
use std::time::Duration;

use vipd_core::protocol::{Action, Event, Instance, Params, Time};
use vipd_core::wire::{AdvertRepr, Auth, Centis, Version};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// The instant `s` seconds after the clock's start.
pub fn at(s: f64) -> Time {
    Time::from_duration(secs(s))
}

/// An instance of vrid 51 at `me` carrying `vips`: 1 s adverts, preempting
/// at once, no password, multicast.
pub fn params(version: Version, me: &str, vips: &[&str]) -> Params {
    Params {
        version,
        vrid: 51,
        advert_interval: Centis::ONE_SECOND,
        preempt: true,
        preempt_delay: Duration::ZERO,
        fast_takeover: false,
        primary_address: ip(me),
        virtual_ips: vips.iter().map(|v| ip(v)).collect(),
        auth: Auth::None,
        unicast_peers: Vec::new(),
    }
}

/// An advert of vrid 51 without a password.
pub fn advert(version: Version, priority: u8, interval: Centis, vips: &[&str]) -> AdvertRepr {
    AdvertRepr {
        version,
        vrid: 51,
        priority,
        max_advert_interval: interval,
        auth: Auth::None,
        addresses: vips.iter().map(|v| ip(v)).collect(),
    }
}

/// `inst` receives `adv` from `from` at `now`.
pub fn hear(inst: &mut Instance, now: Time, from: &str, adv: &AdvertRepr) -> Vec<Action> {
    inst.handle(
        now,
        Event::Advert {
            src: ip(from),
            advert: adv,
        },
    )
}
