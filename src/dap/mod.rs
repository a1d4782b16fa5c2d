//! `flowdeck dap`: the Debug Adapter Protocol on stdin/stdout, so editors that speak DAP
//! (VS Code, Neovim with nvim-dap, Helix) debug workflows with breakpoints on the lines of
//! their JSON files, stepping, variables, evaluation and edits.

mod protocol;
mod server;
pub mod wire;

pub use server::Server;

/// Serve DAP on stdin/stdout until the client disconnects.
pub fn run_stdio() -> anyhow::Result<()> {
    let rt =
        crate::engine::runtime::build("flowdeck-dap", crate::engine::runtime::Workers::PerCore)?;
    rt.block_on(async {
        let reader = tokio::io::BufReader::new(tokio::io::stdin());
        let writer = tokio::io::stdout();
        Server::new(writer).serve(reader).await
    })
}
