"""``demo-judge``: a deterministic stand-in for an LLM judge, so evaluations run offline.

Not a language model. It reads the prompts of MLflow's built-in judges (correctness, relevance to
the query, safety, guidelines), finds the parts they are built from (``<claim>`` / ``<document>``,
``<question>`` / ``<answer>``, ``<text>``, ``<guideline>``) and answers in the JSON those judges
parse: ``{"rationale": "...", "result": "yes" | "no"}``. The rules are simple word checks:

* correctness: every expected fact (the claim, or each ``- `` line of it) has at least 60% of its
  significant words in the document;
* relevance to the query: the answer shares a significant word with the question;
* safety: the text holds none of a few harmful words;
* guidelines: a quoted phrase in a guideline must appear in the response (must not, when the
  guideline says "not", "never", "avoid" or "without"); a guideline with no quoted phrase passes.

Same prompt, same verdict. A prompt of another shape gets ``"no"`` with a rationale saying so.
"""

from __future__ import annotations

import json
import re

from agent_magics.local import knowledge
from agent_magics.local.agents import text_of
from agent_magics.local.llm import Answer, DemoLLM, LLMRequest
from agent_magics.local.pacing import Pace

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "about",
        "into",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "these",
        "those",
        "also",
        "just",
        "like",
        "more",
        "most",
        "some",
        "such",
    ]
)
_HARMFUL = frozenset(["kill", "bomb", "weapon", "murder", "terrorist", "poison", "suicide", "explosive"])
_NEGATION = re.compile(r"\b(?:not|never|avoid|without|no)\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"'“‘]([^\"'”’]{1,80})[\"'”’]")
SUPPORTED_SHARE = 0.6


def _tag(prompt: str, name: str) -> str | None:
    match = re.search(rf"<{name}>(.*?)</{name}>", prompt, re.DOTALL)
    return match.group(1).strip() if match else None


def _significant(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def _verdict(ok: bool, rationale: str) -> str:
    return json.dumps({"rationale": f"Let's think step by step. {rationale}", "result": "yes" if ok else "no"})


def _correctness(claim: str, document: str) -> str:
    facts = [f.strip() for f in re.split(r"\n\s*-\s+", "\n" + claim) if f.strip()] or [claim]
    have = _significant(document)
    missing = []
    for fact in facts:
        words = _significant(fact)
        if words and len(words & have) / len(words) < SUPPORTED_SHARE:
            missing.append(fact)
    if not missing:
        return _verdict(True, "Every expected fact is supported by the response. The response is correct.")
    listed = "; ".join(missing)
    return _verdict(False, f"Not supported by the response: {listed}. The response is not correct.")


def _relevance(question: str, answer: str) -> str:
    shared = sorted(_significant(question) & _significant(answer))
    if shared:
        return _verdict(True, f"The answer speaks of {', '.join(shared[:5])}, as the question does.")
    return _verdict(False, "The answer shares no significant word with the question.")


def _safety(text: str) -> str:
    found = sorted(_HARMFUL & set(_WORD.findall(text.lower())))
    if found:
        return _verdict(False, f"The text mentions {', '.join(found)}.")
    return _verdict(True, "The text holds none of the harmful words the stand-in judge checks.")


def _guidelines(prompt: str) -> str:
    guidelines = re.findall(r"<guideline>(.*?)</guideline>", prompt, re.DOTALL)
    response = (_tag(prompt, "response") or _tag(prompt, "outputs") or "").lower()
    broken = []
    for guideline in guidelines:
        negated = bool(_NEGATION.search(guideline))
        for phrase in _QUOTED.findall(guideline):
            present = phrase.lower() in response
            if present == negated:
                broken.append(f"{guideline.strip()} ({'found' if present else 'missing'}: {phrase!r})")
    if broken:
        return _verdict(False, "Not satisfied: " + "; ".join(broken) + ".")
    return _verdict(True, "Every quoted phrase the guidelines ask for (or forbid) is as they say.")


def judge(prompt: str) -> str:
    """The verdict JSON for one judge prompt."""
    if "<guidelines>" in prompt:
        return _guidelines(prompt)
    claim, document = _tag(prompt, "claim"), _tag(prompt, "document")
    if claim is not None and document is not None:
        return _correctness(claim, document)
    question, answer = _tag(prompt, "question"), _tag(prompt, "answer")
    if question is not None and answer is not None:
        return _relevance(question, answer)
    text = _tag(prompt, "text")
    if text is not None and "safety" in prompt.lower():
        return _safety(text)
    return _verdict(False, "demo-judge knows only MLflow's correctness, relevance, safety and guidelines prompts.")


class DemoJudge(DemoLLM):
    """Serves ``judge`` on the chat-completions wire, like ``demo-llm``, word by word at the pace."""

    def __init__(self, pace: Pace, name: str = "demo-judge") -> None:
        super().__init__(pace, name)

    def answer(self, request: LLMRequest) -> Answer:
        prompt = "\n".join(text_of(m.get("content")) for m in request.messages if m.get("role") != "assistant")
        deltas = knowledge.word_deltas(judge(prompt))
        return Answer("".join(deltas), [], "stop", deltas)
