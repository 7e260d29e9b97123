//! Like `payload`, but the header's total length and the footer (checksum, length, end magic)
//! are rewritten to match the input first, so mutations reach the index, strings, records and
//! entry decoding instead of stopping at the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut data = data.to_vec();
    bundle_fuzz::fix_checksum(&mut data);
    bundle_fuzz::exercise(&data);
});
