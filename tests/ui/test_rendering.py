from PySide6.QtGui import QTextDocument

from chatapp.ui.highlight import code_blocks, highlight_code


def test_code_blocks_are_coloured_and_copyable(qapp) -> None:  # type: ignore[no-untyped-def]
    text = "Try this:\n\n```python\ndef f(x):\n    return 'hi'  # greet\n```\n\nDone."
    doc = QTextDocument()
    doc.setMarkdown(text)
    assert highlight_code(doc) == 2
    block = doc.begin()
    while block.isValid() and not block.text().startswith("def f"):
        block = block.next()
    colours = {frag.fragment().charFormat().foreground().color().name() for frag in block}
    assert len(colours) >= 2  # the keyword is not the colour of the rest
    assert code_blocks(text) == ["def f(x):\n    return 'hi'  # greet"]
    plain = QTextDocument()
    plain.setMarkdown("no code here")
    assert highlight_code(plain) == 0
