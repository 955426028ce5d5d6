"""medkg.extract — see DESIGN.md; built by later issues."""
