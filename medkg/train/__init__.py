"""medkg.train — see DESIGN.md; built by later issues."""
