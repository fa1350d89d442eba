//! Compiles proto/escrow/v1/*.proto with protox (pure Rust, no system protoc) and
//! keeps the descriptor set for server reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files =
        ["escrow/v1/trustee.proto", "escrow/v1/relay.proto", "escrow/v1/audit.proto", "escrow/v1/ceremony.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("escrow_v1_descriptor.bin"), fds.encode_to_vec())?;
    // Every RPC path, so that metrics label requests only by methods that exist (a
    // caller cannot mint label values by calling made-up paths).
    let mut methods = String::from(
        "/// Every RPC of `escrow.v1` as its gRPC path (`/package.Service/Method`).\npub const METHODS: &[&str] = &[\n",
    );
    for file in &fds.file {
        for service in &file.service {
            for method in &service.method {
                methods.push_str(&format!("    \"/{}.{}/{}\",\n", file.package(), service.name(), method.name()));
            }
        }
    }
    methods.push_str("];\n");
    std::fs::write(out.join("escrow_v1_methods.rs"), methods)?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    Ok(())
}
