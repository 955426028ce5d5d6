"""medkg.extract — clinical-text annotation: schema questions, QA and dictionary candidates, assertion,
linking, exports (see docs/ARCHITECTURE.md)."""
