fn main() {
    println!("contraband {}", env!("CARGO_PKG_VERSION"));
}
