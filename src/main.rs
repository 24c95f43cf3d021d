fn main() {
    std::process::exit(sovstack::cli::main());
}
