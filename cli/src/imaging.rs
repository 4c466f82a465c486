pub fn eval_hash(
    _dir: &std::path::Path,
    _chart: &std::path::Path,
    _json: bool,
) -> crate::fail::Result<()> {
    Err(crate::fail::Fail::msg("eval-hash: not built yet"))
}
