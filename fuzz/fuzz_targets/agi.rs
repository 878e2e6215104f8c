#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| hotline_fuzz::agi(data));
