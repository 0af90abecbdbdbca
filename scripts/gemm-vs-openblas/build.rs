fn main() {
    println!("cargo:rustc-link-arg=/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0");
}
