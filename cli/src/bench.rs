pub fn run(_json: bool, _entries: u64) -> crate::fail::Result<()> {
    Err(crate::fail::Fail::msg("bench: not built yet"))
}
