//! Gratuitous ARP frames: whatever parses as one must emit the same
//! announcement back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vipd_core::wire::GarpRepr;

fuzz_target!(|frame: &[u8]| {
    if let Ok(garp) = GarpRepr::parse_frame(frame) {
        let again = GarpRepr::parse_frame(&garp.to_frame()).expect("an emitted GARP parses");
        assert_eq!(again, garp);
    }
});
