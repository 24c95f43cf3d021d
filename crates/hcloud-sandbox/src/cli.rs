//! `sovstack sandbox`: the command-line options, turned into a [`SandboxConfig`], and serving until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{
    FaultSpec, RateLimitConfig, Sandbox, SandboxConfig, SandboxError, ServerIpv4, command_hook,
};

/// `sovstack sandbox`: serve the simulator until interrupted.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(
        long,
        default_value = "127.0.0.1:8765",
        env = "SOVSTACK_SANDBOX_LISTEN"
    )]
    pub listen: SocketAddr,
    /// How long each action runs, in seconds (fractions and 0 allowed).
    #[arg(long, default_value_t = 1.0)]
    pub action_seconds: f64,
    /// Fault rules, e.g. `POST /servers:503#1,*:latency=100ms@0.2` (grammar in the sandbox docs).
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Seed for probabilistic faults.
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Persist the simulated project to this JSON file and reload it on start.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Loopback IPv4 for servers: `127.0.0.1` gives every server that address, `127.0.1.1+` allocates from it.
    #[arg(long, default_value = "127.0.1.1+", value_parser = parse_server_ip)]
    pub server_ip: ServerIpv4,
    /// Accept only this bearer token (default: any non-empty token).
    #[arg(long, env = "SOVSTACK_SANDBOX_TOKEN")]
    pub token: Option<String>,
    /// Requests per hour before 429 (refills evenly over the hour).
    #[arg(long, default_value_t = 3600)]
    pub rate_limit: u32,
    /// Run this shell command when a created server boots, with SANDBOX_SERVER_ID,
    /// SANDBOX_SERVER_NAME, SANDBOX_SERVER_IPV4 and SANDBOX_USER_DATA (a file with the user data).
    #[arg(long)]
    pub boot_command: Option<String>,
}

fn parse_server_ip(s: &str) -> Result<ServerIpv4, String> {
    s.parse()
}

impl SandboxArgs {
    pub fn to_config(&self) -> Result<SandboxConfig, SandboxError> {
        if !self.action_seconds.is_finite() || self.action_seconds < 0.0 {
            return Err(SandboxError::ActionDuration(self.action_seconds));
        }
        Ok(SandboxConfig {
            action_duration: Duration::from_secs_f64(self.action_seconds),
            faults: FaultSpec::parse(&self.faults)?,
            fault_seed: self.fault_seed,
            server_ipv4: self.server_ip,
            rate_limit: RateLimitConfig {
                limit: self.rate_limit,
                refill_per_second: f64::from(self.rate_limit) / 3600.0,
            },
            state_file: self.state.clone(),
            token: self.token.clone(),
            boot: self.boot_command.clone().map(command_hook),
        })
    }
}

/// Runs the simulator until Ctrl-C, printing the endpoint to use.
pub async fn serve(args: SandboxArgs) -> Result<(), SandboxError> {
    let config = args.to_config()?;
    let handle = Sandbox::start(config, args.listen).await?;
    println!(
        "Hetzner Cloud API sandbox listening on {}",
        handle.base_url()
    );
    println!(
        "Point the client at it, e.g. HCLOUD_ENDPOINT={} (any bearer token unless --token is set)",
        handle.base_url()
    );
    let signal = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    signal.map_err(SandboxError::Signal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SandboxArgs,
    }

    #[test]
    fn cli_args_become_config() {
        let cli = Cli::try_parse_from([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--action-seconds",
            "0.25",
            "--faults",
            "POST /servers:503#1",
            "--server-ip",
            "127.0.0.1",
            "--rate-limit",
            "7200",
        ])
        .unwrap();
        let config = cli.args.to_config().unwrap();
        assert_eq!(config.action_duration, Duration::from_millis(250));
        assert_eq!(config.faults.rules.len(), 1);
        assert_eq!(
            config.server_ipv4,
            ServerIpv4::Fixed(std::net::Ipv4Addr::LOCALHOST)
        );
        assert_eq!(config.rate_limit.limit, 7200);
        assert!((config.rate_limit.refill_per_second - 2.0).abs() < 1e-9);

        assert!(Cli::try_parse_from(["sandbox", "--server-ip", "10.0.0.1"]).is_err());
        let bad = Cli::try_parse_from(["sandbox", "--action-seconds=-1"]).unwrap();
        assert!(matches!(
            bad.args.to_config(),
            Err(SandboxError::ActionDuration(_))
        ));
        let bad = Cli::try_parse_from(["sandbox", "--faults", "nonsense"]).unwrap();
        assert!(matches!(bad.args.to_config(), Err(SandboxError::Faults(_))));
    }
}
