//! The workspace's UniFFI bindings generator. Building it from the workspace pins it to the
//! exact UniFFI version the `blindmatch-bindings` crate was compiled with, so generated
//! bindings and the compiled library always agree. See `scripts/gen-bindings.sh`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
