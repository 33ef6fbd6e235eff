"""The stand-in's own surface, in process: what only it has (its CLI, the in-process client)
and vLLM's refusals, checked without starting real vLLM (those answers were recorded from
vLLM 0.32 on this machine)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

pytest.importorskip("peft", reason="the lora extra is not installed")

from scheduler.errors import ServingError
from scheduler.serving import VLLMAdapterServing
from tests.serving.adapters import AdapterFolders
from tests.serving.conftest import ADAPTER, FOREIGN_ADAPTER
from tests.serving.servers import API_KEY, BaseModel
from tuneloop.local_vllm import LocalVLLM, ServerConfig
from tuneloop.local_vllm.cli import config_from_args, main, parser

QUESTION = [{"role": "user", "content": "Where do I request a new monitor?"}]
SHORT_CONTEXT = 64


def config(base: BaseModel, **changes: Any) -> ServerConfig:
    settings: dict[str, Any] = {
        "model": base.path,
        "served_model_names": (base.name,),
        "enable_lora": True,
        "max_lora_rank": 8,
        "max_model_len": SHORT_CONTEXT,
        "api_keys": (API_KEY,),
        "allow_runtime_lora_updating": True,
    }
    settings.update(changes)
    return ServerConfig(**settings)


@pytest.fixture(scope="module")
def stand_in(base_model: BaseModel) -> LocalVLLM:
    return LocalVLLM(config(base_model))


@pytest.fixture
def client(stand_in: LocalVLLM, adapters: AdapterFolders) -> Iterator[openai.OpenAI]:
    made = stand_in.client()
    VLLMAdapterServing(made, adapters).keep([])
    yield made
    made.close()


def post(client: openai.OpenAI, path: str, body: object, **headers: str) -> Any:
    return client.post(path, cast_to=object, body=body, options={"headers": headers})


# --- in process ---------------------------------------------------------------------------------
def test_the_in_process_client_chats_without_a_socket(
    client: openai.OpenAI, base_model: BaseModel
) -> None:
    reply = client.chat.completions.create(
        model=base_model.name, messages=QUESTION, max_tokens=5, temperature=0
    )
    assert reply.model == base_model.name
    assert reply.usage is not None and 1 <= reply.usage.completion_tokens <= 5


def test_a_request_without_a_model_gets_the_base_model(
    client: openai.OpenAI, base_model: BaseModel
) -> None:
    reply = post(client, "/chat/completions", {"messages": QUESTION, "max_tokens": 2})
    assert reply["model"] == base_model.name


def test_several_choices_are_sampled_and_counted(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny-llama",
        messages=QUESTION,
        n=3,
        max_tokens=4,
        temperature=1.0,
        seed=3,
        extra_body={"ignore_eos": True},
    )
    assert [choice.index for choice in reply.choices] == [0, 1, 2]
    assert reply.usage is not None and reply.usage.completion_tokens == 12


def test_importing_the_packages_does_not_import_torch() -> None:
    code = (
        "import sys, tuneloop.local_vllm, scheduler.serving; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"messages": []}, 400, "Cannot apply chat template to an empty conversation"),
        ({"messages": "hi"}, 400, "Input should be a valid list"),
        ({"model": "tiny-llama"}, 400, "Field required"),
        ({"messages": QUESTION, "temperature": -1}, 400, "temperature must be non-negative"),
        ({"messages": QUESTION, "temperature": 0, "n": 2}, 400, "n must be 1 when using greedy"),
        ({"messages": QUESTION, "max_tokens": 0}, 400, "max_tokens must be at least 1, got 0"),
        ({"messages": QUESTION, "stream_options": {"include_usage": True}}, 400, "stream=True"),
        ({"messages": QUESTION, "logprobs": True}, 400, "does not implement 'logprobs'"),
        (
            {"messages": [{"role": "user", "content": "help " * 80}]},
            400,
            f"maximum context length is {SHORT_CONTEXT} tokens",
        ),
    ],
)
def test_bad_chat_requests_are_refused_as_vllm_refuses_them(
    client: openai.OpenAI, body: dict[str, Any], status: int, message: str
) -> None:
    with pytest.raises(openai.APIStatusError) as refused:
        post(client, "/chat/completions", body)
    assert refused.value.status_code == status
    assert isinstance(refused.value.body, dict) and refused.value.body["code"] == status
    assert message in refused.value.body["message"]


def test_a_body_that_is_not_json_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Only 'application/json' is allowed"):
        post(client, "/chat/completions", {"messages": QUESTION}, **{"content-type": "text/plain"})


def test_an_adapter_whose_weights_do_not_fit_is_refused_and_nothing_breaks(
    client: openai.OpenAI, adapters: AdapterFolders, base_model: BaseModel
) -> None:
    """Real vLLM 0.32 on CPU accepts such an adapter and serves garbage; the stand-in refuses
    it as vLLM's worker refuses other unloadable adapters (`VLLMAdapterServing` checks the
    base model before asking either)."""
    foreign = adapters.get(FOREIGN_ADAPTER)
    assert foreign is not None
    with pytest.raises(openai.InternalServerError) as refused:
        post(client, "/load_lora_adapter", {"lora_name": "x", "lora_path": str(foreign.path)})
    assert "Call to add_lora method failed" in refused.value.message
    assert "size mismatch" in refused.value.message
    VLLMAdapterServing(client, adapters).load(ADAPTER)
    for model in (base_model.name, ADAPTER):
        assert client.chat.completions.create(model=model, messages=QUESTION, max_tokens=2)


def test_an_adapter_of_modules_the_model_lacks_is_refused(
    client: openai.OpenAI, adapters: AdapterFolders, tmp_path: Path
) -> None:
    from safetensors.torch import load_file, save_file

    source = adapters.get(ADAPTER)
    assert source is not None
    weights = load_file(source.path / "adapter_model.safetensors")
    renamed = {key.replace("q_proj", "foo_proj"): value for key, value in weights.items()}
    (tmp_path / "odd").mkdir()
    save_file(renamed, tmp_path / "odd" / "adapter_model.safetensors")
    (tmp_path / "odd" / "adapter_config.json").write_bytes(
        (source.path / "adapter_config.json").read_bytes()
    )
    with pytest.raises(openai.InternalServerError, match="expected target modules in"):
        post(client, "/load_lora_adapter", {"lora_name": "odd", "lora_path": str(tmp_path / "odd")})


def test_a_dora_adapter_is_refused_as_vllm_refuses_it(
    client: openai.OpenAI, adapters: AdapterFolders, tmp_path: Path
) -> None:
    source = adapters.get(ADAPTER)
    assert source is not None
    dora = tmp_path / "dora"
    shutil.copytree(source.path, dora)
    config_path = dora / "adapter_config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "use_dora": True}))
    with pytest.raises(openai.InternalServerError, match="vLLM does not yet support DoRA"):
        post(client, "/load_lora_adapter", {"lora_name": "dora", "lora_path": str(dora)})


def test_load_route_checks_its_fields(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Field required"):
        post(client, "/load_lora_adapter", {"lora_name": "x"})
    with pytest.raises(openai.BadRequestError, match="Both 'lora_name' and 'lora_path'"):
        post(client, "/load_lora_adapter", {"lora_name": "", "lora_path": ""})


def test_unloading_an_adapter_mid_stream_ends_the_stream_with_an_error(
    client: openai.OpenAI, adapters: AdapterFolders
) -> None:
    serving = VLLMAdapterServing(client, adapters)
    serving.load(ADAPTER)
    stream = client.chat.completions.create(
        model=ADAPTER,
        messages=QUESTION,
        max_tokens=20,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    chunks = iter(stream)
    next(chunks)  # the role chunk: generation has not started
    serving.unload(ADAPTER)
    with pytest.raises(openai.APIError, match="was unloaded"):
        list(chunks)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_concurrent_requests_on_base_and_adapter_get_their_own_replies(
    client: openai.OpenAI, adapters: AdapterFolders, base_model: BaseModel, stream: bool
) -> None:
    """Decoded together (test_batching.py checks they are), each gets what it gets alone."""
    VLLMAdapterServing(client, adapters).load(ADAPTER)

    def greedy(model: str, stream: bool = False) -> str:
        options: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
        reply = client.chat.completions.create(
            model=model,
            messages=QUESTION,
            max_tokens=8,
            temperature=0,
            stream=stream,
            extra_body={"ignore_eos": True},
            **options,
        )
        if not stream:
            return reply.choices[0].message.content or ""
        chunks = list(reply)
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)

    alone = {model: greedy(model) for model in (base_model.name, ADAPTER)}
    together: dict[str, list[str]] = {base_model.name: [], ADAPTER: []}

    def run(model: str) -> None:
        together[model].append(greedy(model, stream))

    threads = [threading.Thread(target=run, args=(m,)) for m in [base_model.name, ADAPTER] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == {model: [text, text] for model, text in alone.items()}


# --- configuration ------------------------------------------------------------------------------
def test_without_runtime_updating_there_are_no_lora_routes(
    base_model: BaseModel, adapters: AdapterFolders
) -> None:
    frozen = LocalVLLM(config(base_model, allow_runtime_lora_updating=False))
    with pytest.raises(ServingError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
        VLLMAdapterServing(frozen.client(), adapters).load(ADAPTER)


def test_a_base_url_without_v1_is_named(stand_in: LocalVLLM, adapters: AdapterFolders) -> None:
    client = stand_in.client().with_options(base_url="http://local-vllm.invalid")
    with pytest.raises(ServingError, match="base URL must end in /v1"):
        VLLMAdapterServing(client, adapters).loaded()


def test_without_enable_lora_adapters_are_refused(
    base_model: BaseModel, adapters: AdapterFolders
) -> None:
    plain = LocalVLLM(config(base_model, enable_lora=False))
    with pytest.raises(ServingError, match="LoRA is not enabled"):
        VLLMAdapterServing(plain.client(), adapters).load(ADAPTER)


def test_max_model_len_cannot_exceed_the_model(base_model: BaseModel) -> None:
    with pytest.raises(ValueError, match="max_position_embeddings"):
        LocalVLLM(config(base_model, max_model_len=10**6))


def test_the_command_line_takes_vllms_flags(
    base_model: BaseModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True")
    monkeypatch.setenv("VLLM_API_KEY", "from-env")
    flags = ["--served-model-name", "tiny", "--enable-lora", "--max-lora-rank", "32"]
    flags += ["--max-loras", "4", "--max-num-seqs", "8", "--port", "8123", "--dtype", "bfloat16"]
    args = parser().parse_args(["--model", str(base_model.path), *flags])
    parsed = config_from_args(args)
    assert parsed.names == ("tiny",) and parsed.enable_lora
    assert (parsed.max_lora_rank, parsed.max_loras, parsed.max_num_seqs) == (32, 4, 8)
    assert parsed.allow_runtime_lora_updating and parsed.api_keys == ("from-env",)
    args = parser().parse_args(["--model", str(base_model.path), "--api-key", "a", "b"])
    monkeypatch.setenv("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "0")
    parsed = config_from_args(args)
    assert parsed.api_keys == ("a", "b") and not parsed.allow_runtime_lora_updating
    assert parsed.names == (str(base_model.path),)
    assert parsed.max_num_seqs == 128  # vLLM's default for the OpenAI server on CPU
    with pytest.raises(ValueError, match="max_num_seqs must be at least 1, got 0"):
        config(base_model, max_num_seqs=0)


def test_the_command_line_refuses_a_missing_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--model", str(tmp_path / "nothing")])
    assert exit_.value.code == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_python_m_serves_over_http(base_model: BaseModel, tmp_path: Path) -> None:
    from tests.serving.servers import _free_port, _healthy

    port = _free_port()
    command = [sys.executable, "-m", "tuneloop.local_vllm", "--model", str(base_model.path)]
    command += ["--served-model-name", "tiny", "--api-key", "k", "--port", str(port)]
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            if _healthy(port) or process.poll() is not None:
                break
            threading.Event().wait(0.1)
        assert _healthy(port), log.read_text()
        client = openai.OpenAI(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
        assert [card.id for card in client.models.list().data] == ["tiny"]
        reply = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=3)
        assert reply.model == "tiny"
    finally:
        process.terminate()
        process.wait(timeout=30)
