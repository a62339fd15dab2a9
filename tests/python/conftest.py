"""pytest hooks for the CTest entries of python/CMakeLists.txt."""

SKIPPED_EVERYTHING = 77  # the entries' SKIP_RETURN_CODE


def pytest_sessionfinish(session, exitstatus):
    # An entry whose every test skipped proved nothing: CTest must not report it as passed. (A
    # module skipped whole, by pytest.importorskip, leaves nothing collected: exit status 5.)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if exitstatus in (0, 5) and reporter is not None:
        stats = reporter.stats
        if stats.get("skipped") and not stats.get("passed"):
            session.exitstatus = SKIPPED_EVERYTHING
