"""Pure parts of the gateway's streaming and of the live multiple-choice scoring, without servers."""

from __future__ import annotations

import pytest

from messplus_core.serve.multiple_choice import ChoiceDocument, ScoringError, loglikelihoods
from messplus_core.serve.streaming import assemble, chunks_of


@pytest.mark.parametrize("chat", [True, False])
def test_a_whole_answer_cut_into_chunks_assembles_back(chat: bool) -> None:
    text = "  Paris is\nthe capital,  of France. "
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"} if chat else \
             {"index": 0, "text": text, "finish_reason": "length", "logprobs": None}
    body = {"id": "x1", "object": "chat.completion" if chat else "text_completion", "created": 7, "model": "m",
            "choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9},
            "messplus_label": 1, "messplus_cost": 2.5}
    chunks = chunks_of(body, chat)
    assert len([c for c in chunks if c["choices"]]) >= 6 and chunks[-1]["choices"] == [] and chunks[-1]["usage"]
    assert all(c["object"] == ("chat.completion.chunk" if chat else "text_completion") for c in chunks)
    back = assemble(chunks, chat)
    assert back["choices"] == [choice] and back["usage"] == body["usage"]
    assert back["messplus_label"] == 1 and back["messplus_cost"] == 2.5  # cost=reported and grader=reported still work


def echo(tokens: list[str], logprobs: list[float | None], top: list[dict | None] | None = None) -> dict:
    offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    return {"index": 0, "text": "".join(tokens),
            "logprobs": {"tokens": tokens, "token_logprobs": logprobs, "text_offset": offsets, "top_logprobs": top}}


def test_loglikelihood_sums_the_continuation_tokens_only() -> None:
    doc = ChoiceDocument(3, {}, (("Q: sky?\nA:", " blue"), ("Q: sky?\nA:", " red")))
    first = echo(["Q", ":", " sky", "?\n", "A", ":", " bl", "ue", "!"], [None, -1, -2, -3, -4, -5, -0.5, -0.25, -9],
                 [None] * 6 + [{" bl": -0.5}, {"ue": -0.25}, {"!": -9}])
    second = {**echo(["Q", ":", " sky", "?\n", "A", ":", " red", "!"], [None, -1, -2, -3, -4, -5, -3.0, -9],
                     [None] * 6 + [{" blue": -1.0}, {"!": -9}]), "index": 1}
    assert loglikelihoods(doc, {"choices": [second, first]}) == [(-0.75, True), (-3.0, False)]  # the generated '!' is not counted


def test_scoring_errors_name_the_problem() -> None:
    doc = ChoiceDocument(5, {}, (("A:", " x"),))
    with pytest.raises(ScoringError, match="no echoed logprobs"):
        loglikelihoods(doc, {"choices": [{"index": 0, "text": "A: x", "logprobs": None}]})
    with pytest.raises(ScoringError, match="does not end on a token boundary"):
        loglikelihoods(doc, {"choices": [echo(["A", ": x"], [None, -1.0])]})
    with pytest.raises(ScoringError, match="1 choices sent, 2 answered"):
        loglikelihoods(doc, {"choices": [echo(["A:", " x"], [None, -1.0])] * 2})
