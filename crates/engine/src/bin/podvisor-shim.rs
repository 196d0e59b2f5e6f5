//! The per-instance monitor as a standalone binary, for the engine's own tests (the `podvisor`
//! binary runs the same code as `podvisor __shim`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(podvisor_engine::runtime::process::shim_main(args));
}
