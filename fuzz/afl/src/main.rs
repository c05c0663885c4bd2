//! One AFL++ binary for every target of till-fuzz: the target is named by
//! the environment variable `TILL_FUZZ_TARGET` (fuzz/run sets it).

fn main() {
    let name = std::env::var("TILL_FUZZ_TARGET").unwrap_or_default();
    let Some(target) = till_fuzz::target(&name) else {
        let names: Vec<_> = till_fuzz::TARGETS.iter().map(|t| t.name).collect();
        eprintln!(
            "TILL_FUZZ_TARGET={name:?}: not a target; one of {}",
            names.join(", ")
        );
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| (target.run)(data));
}
