"""Generators: the local SmolLM2 and the OpenAI-compatible HTTP client, the latter against a real server
(`transformers serve`, on loopback, serving the same SmolLM2 weights), not a hand-written fake."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from medkg.errors import MedkgError
from medkg.rag.generators import (ChatMessage, GenerationConfig, OpenAIChatGenerator, ServerError,
                                  TransformersGenerator, open_generator)

SHORT = GenerationConfig(max_new_tokens=10)  # greedy (temperature 0); room for these one-line answers


def ask(text: str) -> list[ChatMessage]:
    return [ChatMessage("user", text)]


# Prompts of different lengths, so a batch of them really needs left padding.
QUESTIONS = [ask("What is the capital of France?"),
             ask("In one short sentence: what is the capital city of Japan?"),
             ask("What is the capital of Italy?")]


def free_port() -> int:
    with socket.socket() as s:  # the OS picks a free port; closed again, nothing listens on it
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """With 2 cores shared by other processes, torch's spinning worker threads made a 10-token generation
    take 5-12 s instead of 0.6 s (measured); one thread here, restored for the other test files."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def local(small_generator):
    """The offline default, from conftest's session-wide cache (its GGUF is converted once per run)."""
    assert isinstance(small_generator, TransformersGenerator)
    return small_generator


@pytest.fixture(scope="module")
def local_answers(local):
    """Each question answered alone: the reference for determinism, batching and the server."""
    return [local.generate([q], SHORT)[0] for q in QUESTIONS]


@pytest.fixture(scope="module")
def server(generator_cache, tmp_path_factory):
    """`transformers serve` pinned to the SmolLM2 folder, on a free loopback port; yields its base URL."""
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("`transformers serve` needs fastapi, uvicorn, openai and pydantic: pip install -e '.[test]'")
    # transformers serve cannot load the GGUF itself (a GGUF config has no `architectures`, which its loader
    # indexes), so it serves the HF folder converted from that GGUF: the same weights.
    folder = next(generator_cache.glob("*/config.json")).parent
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(folder), "--device", "cpu",
               "--dtype", "float32", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})  # see one_torch_thread
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                why = f"exited with {process.returncode}" if process.returncode is not None else "no /health in 120 s"
                pytest.fail(f"transformers serve {why}:\n{log_path.read_text(errors='replace')[-4000:]}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url, str(folder)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------------------ local generator

def test_local_greedy_is_deterministic_and_answers(local, local_answers):
    again = local.generate([QUESTIONS[0]], SHORT)[0]
    assert again.text == local_answers[0].text
    assert "Paris" in again.text
    assert again.finish_reason == "stop" and again.model == "smollm2-135m-instruct"


def test_local_batch_matches_one_by_one(local, local_answers):
    # A wrong padding side or attention mask changes the shorter prompts' answers.
    batch = local.generate(QUESTIONS, SHORT)
    assert [g.text for g in batch] == [g.text for g in local_answers]
    assert [g.prompt_tokens for g in batch] == [g.prompt_tokens for g in local_answers]


def test_local_stop_and_length_and_usage(local):
    question = ask("List three fruits, one per line, nothing else.")
    full = local.generate([question], GenerationConfig(max_new_tokens=8))[0]
    assert "\n" in full.text  # otherwise this prompt tests nothing
    cut = local.generate([question], GenerationConfig(max_new_tokens=8, stop=("\n",)))[0]
    assert cut.text == full.text.split("\n")[0].strip() and cut.finish_reason == "stop"
    assert cut.completion_tokens < full.completion_tokens  # generation stopped early, not just the text

    before = local.usage.as_dict()
    short = local.generate([QUESTIONS[0]], GenerationConfig(max_new_tokens=3))[0]
    assert short.finish_reason == "length" and short.completion_tokens == 3
    prompt_ids = local.tokenizer(local.prompt(QUESTIONS[0]), add_special_tokens=False)["input_ids"]
    assert short.prompt_tokens == len(prompt_ids)
    after = local.usage.as_dict()
    assert after["requests"] == before["requests"] + 1
    assert after["prompt_tokens"] - before["prompt_tokens"] == len(prompt_ids)
    assert after["completion_tokens"] - before["completion_tokens"] == 3


def test_local_scores_continuations(local):
    scores = local.score_continuations(ask("What is the capital of France?"), [" Paris", " London"],
                                       assistant_prefix="The capital of France is")
    assert scores[0] > scores[1]
    assert all(s < 0 for s in scores)  # summed log-probabilities


# --------------------------------------------------------------------------- HTTP client, real local server

def test_server_discovered_and_greedy_matches_local(server, local_answers):
    url, model = server
    remote = OpenAIChatGenerator(url)  # a pinned server lists one model: found via /v1/models
    assert remote.model == model
    first, second = (remote.generate([QUESTIONS[0]], SHORT)[0] for _ in range(2))
    assert first.text and first.text == second.text  # temperature 0 → greedy on the server too
    assert first.text == local_answers[0].text  # same weights, same chat template, same greedy decoding
    # transformers serve reports usage: the same prompt count as ours; its completion count includes the
    # end-of-turn token, which the local generator does not count.
    assert first.prompt_tokens == local_answers[0].prompt_tokens
    assert first.completion_tokens in (local_answers[0].completion_tokens, local_answers[0].completion_tokens + 1)
    assert remote.usage.requests == 2 and remote.usage.prompt_tokens == 2 * first.prompt_tokens


def test_server_concurrent_requests_keep_order(server, local_answers):
    url, model = server
    remote = OpenAIChatGenerator(url, model, concurrency=3)
    answers = remote.generate(QUESTIONS, SHORT)
    assert [g.text for g in answers] == [g.text for g in local_answers]
    assert remote.usage.requests == 3 and remote.usage.completion_tokens > 0


def test_server_stop_and_length(server):
    url, model = server
    remote = OpenAIChatGenerator(url, model)
    cut = remote.generate([QUESTIONS[0]], GenerationConfig(max_new_tokens=10, stop=(" is",)))[0]
    # The server stops generating at the stop string (few tokens) but returns it; the client cuts it off.
    assert cut.text == "The capital of France" and cut.completion_tokens <= 6
    short = remote.generate([QUESTIONS[0]], GenerationConfig(max_new_tokens=3))[0]
    assert short.finish_reason == "length" and short.completion_tokens == 3
    # the repetition penalty the trace command uses goes out as the standard frequency_penalty: accepted
    penalised = remote.generate([QUESTIONS[0]], GenerationConfig(max_new_tokens=10, repetition_penalty=1.1))[0]
    assert penalised.text


def counting_client(attempts: list) -> httpx.Client:
    """A real httpx client that records each request it sends (to count retries)."""
    return httpx.Client(timeout=5, event_hooks={"request": [lambda request: attempts.append(request.url)]})


def test_wrong_model_is_a_clear_error_without_retries(server):
    url, _ = server
    attempts: list = []
    remote = OpenAIChatGenerator(url, "no-such-model", max_retries=3, client=counting_client(attempts))
    with pytest.raises(ServerError, match="HTTP 400") as caught:
        remote.generate([QUESTIONS[0]], SHORT)
    assert not caught.value.retryable and len(attempts) == 1
    assert "no-such-model" in str(caught.value)  # the server's own explanation is kept


def test_connection_refused_is_retried_with_back_off():
    attempts: list = []
    remote = OpenAIChatGenerator(f"http://127.0.0.1:{free_port()}", "any", max_retries=2,
                                 client=counting_client(attempts))
    start = time.monotonic()
    with pytest.raises(MedkgError) as caught:
        remote.generate([QUESTIONS[0]], SHORT)
    assert isinstance(caught.value, ServerError) and caught.value.retryable
    assert len(attempts) == 3  # 1 try + 2 retries
    assert time.monotonic() - start >= 1.4  # exponential back-off: 0.5 s then 1 s


def test_open_generator_urls(server):
    url, model = server
    generator = open_generator(url)
    assert isinstance(generator, OpenAIChatGenerator) and generator.model == model
    with pytest.raises(MedkgError, match="http://"):
        open_generator("ftp://x")


# ------------------------------------------------------------------------------------- the user's own server

@pytest.mark.skipif(not os.environ.get("MEDKG_LLM_URL"), reason="set MEDKG_LLM_URL (and MEDKG_LLM_MODEL if the "
                    "server lists several models) to test against your own OpenAI-compatible server")
def test_user_server():
    remote = OpenAIChatGenerator(os.environ["MEDKG_LLM_URL"], os.environ.get("MEDKG_LLM_MODEL") or None)
    answer = remote.generate([QUESTIONS[0]], GenerationConfig(max_new_tokens=32))[0]
    assert answer.text and remote.usage.requests == 1
