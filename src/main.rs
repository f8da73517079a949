//! `kaledger` binary: parse the command line and run it.

fn main() -> std::process::ExitCode {
    kaledger::cli::main()
}
