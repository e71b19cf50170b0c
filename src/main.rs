//! `aws-auth-migrate`: parse the command line, run, and exit with a documented status.

use clap::Parser as _;

fn main() {
    let cli = aws_auth_migrate::cli::Cli::parse();
    aws_auth_migrate::cli::logging::init(cli.verbose);
    std::process::exit(aws_auth_migrate::cli::run(cli));
}
