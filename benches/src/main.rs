//! The `elb-benches` program; see the library documentation and `elb-benches --help`.

use std::process::ExitCode;

use elb_benches::cli;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => cli::run(&args[1..]),
        Some("report") => cli::report(&args[1..]),
        Some("measure") => cli::measure(&args[1..]),
        Some("contender") => cli::contender(&args[1..]),
        Some("--help" | "-h" | "help") => {
            println!("{}", cli::USAGE);
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(cli::USAGE.to_owned()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("elb-benches: {message}");
            ExitCode::FAILURE
        }
    }
}
