"""The research API: core's record-level simulation, callable from Python."""

import blindmatch as bm


def test_simulate_reports_reveal_probability_and_advantage():
    params = bm.DatabaseParams(4, 3, 10_000, 10_000)
    rows = bm.simulate(params, 300, 0, 6, 0.1, 0.1, 1, 12, 3)
    assert [r.matches for r in rows] == list(range(0, 7))
    for r in rows:
        assert 0.0 <= r.advantage_count_exact <= 1.0
        assert r.advantage_sampled_ci95_low <= r.advantage_sampled <= r.advantage_sampled_ci95_high
        if r.matches < 4:
            assert r.p_reveal == 0.0
    assert rows[0].advantage_count_exact == 0.0
    assert rows[-1].p_reveal > 0.5
    # Reproducible from the seed.
    assert rows == bm.simulate(params, 300, 0, 6, 0.1, 0.1, 1, 12, 3)


def test_simulate_refuses_bad_options():
    params = bm.DatabaseParams(4, 3, 10_000, 10_000)
    try:
        bm.simulate(params, 300, 5, 2, 0.1, 0.1, 1, 12, 3)
    except bm.BlindMatchError.BadInput:
        pass
    else:
        raise AssertionError("matches_from > matches_to was accepted")
