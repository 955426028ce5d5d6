"""medkg.train — MLM adaptation, extractive-QA fine-tuning and promotion, SFT of the generator
on traces (see docs/ARCHITECTURE.md)."""
