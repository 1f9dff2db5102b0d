mod usage;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("usage") {
        std::process::exit(usage::run_cli(&args[1..]));
    }
    println!("Hello, world!");
}
