//! The job API. Placeholder until the API issue lands: the workspace member exists so the
//! shared crates are built and checked against both of their users.
fn main() {
    eprintln!("api-lambda is not implemented yet");
    std::process::exit(1);
}
