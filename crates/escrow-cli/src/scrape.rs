//! `escrow metrics`: print one server's Prometheus page (`GET /metrics` on its
//! `--metrics-listen` port, plain HTTP), for scripts and for the distroless image,
//! which has no HTTP client. Needs no certificate and no passphrase.

use std::time::Duration;

use clap::Args;

use crate::CliError;

/// How long a scrape waits for the whole page.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// The metrics endpoint, host:port (the server's --metrics-listen).
    #[arg(long)]
    pub addr: String,
    /// Print only the families whose name starts with this (e.g. escrow_warrant):
    /// their samples and their HELP, TYPE and UNIT lines.
    #[arg(long)]
    pub prefix: Option<String>,
}

pub async fn run(a: MetricsArgs) -> Result<(), CliError> {
    let page =
        escrow_service::metrics::scrape(&a.addr, TIMEOUT).await.map_err(|e| CliError::Findings(e.to_string()))?;
    for line in page.lines().filter(|l| a.prefix.as_deref().is_none_or(|p| family(l).starts_with(p))) {
        // The page is the server's text: escaped like everything a server sends.
        println!("{}", crate::display::text(line));
    }
    Ok(())
}

/// The metric name a page line is about: after `# HELP `, `# TYPE ` or `# UNIT `, or
/// at the start of a sample line; empty for `# EOF` and blank lines.
fn family(line: &str) -> &str {
    let rest = ["# HELP ", "# TYPE ", "# UNIT "].iter().find_map(|p| line.strip_prefix(p)).unwrap_or(line);
    if rest.starts_with('#') {
        return "";
    }
    rest.split([' ', '{']).next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::family;

    #[test]
    fn family_names() {
        assert_eq!(family("# HELP escrow_warrants Warrants by state."), "escrow_warrants");
        assert_eq!(family("# TYPE escrow_warrants gauge"), "escrow_warrants");
        assert_eq!(family("escrow_warrants{state=\"approved\"} 3"), "escrow_warrants");
        assert_eq!(family("escrow_log_size 17"), "escrow_log_size");
        assert_eq!(family("# EOF"), "");
        assert_eq!(family(""), "");
    }
}
