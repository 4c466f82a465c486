pub fn run(_dir: Option<std::path::PathBuf>, _listed: u64) -> crate::fail::Result<()> {
    Err(crate::fail::Fail::msg("demo: not built yet"))
}
