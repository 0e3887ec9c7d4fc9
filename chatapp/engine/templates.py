"""Named chat formats a model's template can be overridden with (per model, in its settings).

Each is Jinja text rendered by llama-cpp-python's sandboxed formatter, like a
template from a GGUF file. Formats without a system role put the system text
at the start of the first user turn.
"""

from __future__ import annotations

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

GEMMA = (
    "{{ bos_token }}{% set ns = namespace(sys='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.sys = message['content'] + '\\n\\n' %}"
    "{% elif message['role'] == 'user' %}"
    "{{ '<start_of_turn>user\\n' + ns.sys + message['content'] + "
    "'<end_of_turn>\\n' }}{% set ns.sys = '' %}"
    "{% else %}{{ '<start_of_turn>model\\n' + message['content'] + '<end_of_turn>\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)

MISTRAL = (
    "{{ bos_token }}{% set ns = namespace(sys='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.sys = message['content'] + '\\n\\n' %}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + ns.sys + message['content'] + ' [/INST]' }}"
    "{% set ns.sys = '' %}{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)

PHI3 = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + "
    "'<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

NAMED: dict[str, str] = {
    "chatml": CHATML,
    "llama-3": LLAMA3,
    "gemma": GEMMA,
    "mistral": MISTRAL,
    "phi-3": PHI3,
}


def resolve_template(value: str | None) -> str | None:
    """None for "use the model's own"; the Jinja of a named format; else the text itself."""
    if not value or not value.strip():
        return None
    return NAMED.get(value.strip().lower(), value)
