"""medkg.rag — retrieval (text, dense, graph), evidence, MCQ answering and evaluation,
reasoning traces (see docs/ARCHITECTURE.md)."""
