"""medkg.models — encoder backbones and the extractive-QA reader.

A leaf layer like `kg`: `extract` asks questions with `ExtractiveQA`, `train` fine-tunes what lives here,
and nothing here imports `rag`, `extract` or `train`. Heavy libraries (torch, transformers, peft) are
imported inside functions so that `import medkg` stays fast for graph-only users.
"""
