//! Makes binaries and tests of this crate find libtorch at run time without LD_LIBRARY_PATH.
//!
//! torch-sys (a direct dependency, `links = "tch"`) exports the libtorch library directory as
//! `DEP_TCH_LIBTORCH_LIB`; we embed it as an rpath. `--no-as-needed -ltorch` keeps libtorch
//! (and through it libtorch_cuda) linked even though no Rust symbol refers to it directly, so
//! `Device::cuda_if_available()` finds a GPU when there is one. Cargo applies these link
//! arguments only to this package's own tests, examples and binaries: a crate that builds a
//! binary over ssad-torch needs the same build script (crates/ssad uses this file as its build script).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        if os == "linux" || os == "macos" {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        }
    }
    if os == "linux" {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch,--as-needed");
    }
}
