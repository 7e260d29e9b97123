//! Arbitrary bytes into the carrier lookup and the payload parser, as the stub would see a
//! damaged executable. Most mutations fail at the checksum: `payload_checksummed` goes deeper.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bundle_fuzz::exercise(data);
});
