"""medkg.rag — see DESIGN.md; built by later issues."""
