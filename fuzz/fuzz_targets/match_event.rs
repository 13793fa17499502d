#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| contraband_fuzz::must(contraband_fuzz::match_event, data));
