//! `blindmatch`: the command line for server engineers, auditors and researchers.
#![deny(unsafe_code)]
#![allow(missing_docs)]

mod bench;
mod commands;
mod demo;
mod fail;
mod files;
mod fuzzy_eval;
mod httpc;
mod imaging;
mod loadgen;
mod serve;
mod server;
mod simulate;
mod store;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Privacy-preserving media matching: blinded hash databases, vouchers, threshold reveal.
#[derive(Parser)]
#[command(name = "blindmatch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Server keys, opening vouchers, account status.
    #[command(subcommand)]
    Server(ServerCmd),
    /// Build, inspect and audit blinded databases.
    #[command(subcommand)]
    Db(DbCmd),
    /// Client keys and vouchers (what a device does).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Hash files: sha256, sha1, md5 (file bytes) or pdq (decoded PNG/JPEG pixels).
    Hash {
        /// Hash kind.
        #[arg(long, default_value = "sha256")]
        kind: String,
        /// Print PDQ hashes even below the quality gate.
        #[arg(long)]
        no_quality_gate: bool,
        /// Files to hash.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The end-to-end demo: keys, a 100,000-hash database, an account that crosses the threshold.
    Demo {
        /// Keep the demo's files here instead of a temporary directory.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Listed hashes in the demo database.
        #[arg(long, default_value_t = 100_000)]
        listed: u64,
    },
    /// The server as a service: voucher intake over HTTP, background opening, operator API.
    Serve(serve::ServeArgs),
    /// Load generator: pre-generated vouchers for many accounts sent to a running `serve`,
    /// throughput and latency, then the end state checked against what was sent.
    Loadgen(loadgen::LoadgenArgs),
    /// Measure every operation and its curve25519-dalek floor in one run.
    Bench {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Entries in the database-build measurement.
        #[arg(long, default_value_t = 20_000)]
        entries: u64,
        /// The s_max values whose per-record server cost is measured.
        #[arg(long, value_delimiter = ',', default_value = "60,250,1000")]
        smax_costs: Vec<u32>,
    },
    /// Simulate accounts at the record level: P(reveal) and the server's advantage by the
    /// number of listed items sent.
    Simulate(simulate::SimulateArgs),
    /// Robustness of each hasher under common edits, over the images in a folder.
    EvalHash {
        /// Folder of PNG/JPEG images.
        dir: PathBuf,
        /// Write the chart here (SVG).
        #[arg(long, default_value = "eval-hash.svg")]
        chart: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Near-duplicate matching in plaintext (bands + multi-probe) over the images in a folder:
    /// recall per edit against PDQ ≤ 31, false matches, identity stability; --sweep for the
    /// (L, b, P) Pareto table. See docs/FUZZY.md.
    EvalFuzzy(Box<fuzzy_eval::EvalFuzzyArgs>),
}

#[derive(Subcommand)]
enum ServerCmd {
    /// Generate a server key: DIR/server.key (mode 0600) and DIR/server.pub. Refuses to
    /// replace an existing key (--force).
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing key (its databases can then no longer be opened).
        #[arg(long)]
        force: bool,
    },
    /// Open vouchers for an account and record the opened ones in the store, per window;
    /// delete the below-threshold records of closed windows.
    Open(server::OpenArgs),
    /// An account's state per window: below the threshold nothing (counts with --audit); at
    /// or above, the real matches' ids and associated data and the synthetic ids.
    Status(server::StatusArgs),
    /// Everything stored about an account (per opened record: id, x0, window, arrival time;
    /// no secrets). Below-threshold state: needs --audit.
    Records(server::RecordsArgs),
}

#[derive(Subcommand)]
enum DbCmd {
    /// Build a signed blinded database from hash lists; prints the root hash.
    Build(commands::DbBuild),
    /// Show a database's manifest and root hash (nothing is verified).
    Inspect {
        db: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Full audit: signature, table digest, root hash, every cell canonical, non-identity, distinct.
    Verify {
        db: PathBuf,
        #[arg(long)]
        server_pub: PathBuf,
        /// The root hash published out of band (hex).
        #[arg(long)]
        root: Option<String>,
    },
}

#[derive(Subcommand)]
enum ClientCmd {
    /// Generate a client (account) key file, mode 0600. Refuses to replace an existing key
    /// (--force): a new key's records never combine with the old one's.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
    /// Make one voucher file per item.
    Voucher(Box<commands::VoucherArgs>),
}

fn run(cli: Cli) -> fail::Result<()> {
    use commands::*;
    match cli.command {
        Command::Server(ServerCmd::Keygen { out, force }) => server_keygen(&out, force),
        Command::Server(ServerCmd::Open(args)) => server::server_open(&args),
        Command::Server(ServerCmd::Status(args)) => server::server_status(&args),
        Command::Server(ServerCmd::Records(args)) => server::server_records(&args),
        Command::Db(DbCmd::Build(args)) => db_build(&args),
        Command::Db(DbCmd::Inspect { db, json }) => db_inspect(&db, json),
        Command::Db(DbCmd::Verify {
            db,
            server_pub,
            root,
        }) => db_verify(&db, &server_pub, root.as_deref()),
        Command::Client(ClientCmd::Keygen { out, force }) => client_keygen(&out, force),
        Command::Client(ClientCmd::Voucher(args)) => client_voucher(&args),
        Command::Hash {
            kind,
            no_quality_gate,
            files,
        } => hash(&kind, !no_quality_gate, &files),
        Command::Demo { dir, listed } => demo::run(dir, listed),
        Command::Bench {
            json,
            entries,
            smax_costs,
        } => bench::run(json, entries, &smax_costs),
        Command::Simulate(args) => simulate::run(&args),
        Command::EvalHash { dir, chart, json } => imaging::eval_hash(&dir, &chart, json),
        Command::EvalFuzzy(args) => fuzzy_eval::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Loadgen(args) => loadgen::run(&args),
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("blindmatch: error: {e}");
        std::process::exit(e.code);
    }
}
