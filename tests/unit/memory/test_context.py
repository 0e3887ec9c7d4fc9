from hypothesis import given
from hypothesis import strategies as st

from chatapp.domain import ChatMessage
from chatapp.memory.context import fit_recent, reply_room


def count(messages) -> int:  # a stand-in tokenizer: one token per word, four per message
    return sum(len(m.content.split()) + 4 for m in messages)


def conversation(n: int, words: int = 10) -> list[ChatMessage]:
    roles = ["user", "assistant"]
    return [ChatMessage(roles[i % 2], " ".join(f"w{i}" for _ in range(words))) for i in range(n)]


def test_everything_fits_when_short() -> None:
    history = conversation(5)
    fitted = fit_recent(ChatMessage("system", "be nice"), history, count, 1000)
    assert fitted.messages[0].role == "system"
    assert fitted.messages[1:] == history
    assert fitted.dropped == 0
    assert fitted.prompt_tokens == count(fitted.messages)


def test_oldest_messages_are_dropped_first() -> None:
    history = conversation(21)  # ends with a user message
    fitted = fit_recent(None, history, count, 60)
    assert fitted.messages[-1] == history[-1]
    assert fitted.prompt_tokens <= 60
    assert fitted.messages == history[-len(fitted.messages) :]
    assert fitted.messages[0].role == "user"  # never opens with the assistant


@given(
    n=st.integers(min_value=1, max_value=40),
    words=st.integers(min_value=0, max_value=30),
    budget=st.integers(min_value=20, max_value=2000),
)
def test_never_exceeds_budget_when_the_last_message_fits(n: int, words: int, budget: int) -> None:
    history = conversation(n if n % 2 else n + 1, words)
    fitted = fit_recent(ChatMessage("system", "sys"), history, count, budget)
    assert fitted.messages[-1] == history[-1]
    if count([ChatMessage("system", "sys"), history[-1]]) <= budget:
        assert fitted.prompt_tokens <= budget
    assert fitted.prompt_tokens == count(fitted.messages)


def test_reply_room_stays_within_the_context() -> None:
    assert reply_room(4096, 512) == 512
    assert reply_room(512, 4000) == 256
    assert reply_room(4096, None) == 1024
