"""Content-policy refusals as each vendor sends them: ready-made `Fault`s for the emulator.

What lives here: the exact error bodies with which OpenAI (``content_policy_violation``, and
``invalid_prompt`` for a prompt flagged by a reasoning model), Azure OpenAI (``content_filter``
with an ``innererror`` of ``ResponsibleAIPolicyViolation`` and per-category results) and
Anthropic ("Output blocked by content filtering policy", an ``invalid_request_error``)
refuse a request, as HTTP 400 answers (:func:`refusal`) or, where the vendor does so,
mid-stream (:func:`stream_refusal`). Pure data; the server applies them like any other
scripted fault.

    emu.script(refusal("openai"))
    emu.script(stream_refusal("anthropic", after_chunks=3))
"""

from __future__ import annotations

from typing import Any

from .faults import Fault

__all__ = ["REFUSAL_VARIANTS", "refusal", "refusal_body", "stream_refusal"]

_OPENAI_POLICY = ("Your request was rejected as a result of our safety system. Your prompt "
                  "may contain text that is not allowed by our safety system.")
_OPENAI_PROMPT = ("Invalid prompt: your prompt was flagged as potentially violating our usage "
                  "policy. Please try again with a different prompt: "
                  "https://platform.openai.com/docs/guides/reasoning#advice-on-prompting")
_AZURE = ("The response was filtered due to the prompt triggering Azure OpenAI's content "
          "management policy. Please modify your prompt and retry. To learn more about our "
          "content filtering policies please read our documentation: "
          "https://go.microsoft.com/fwlink/?linkid=2198766")
ANTHROPIC_BLOCKED = "Output blocked by content filtering policy"
_CATEGORIES = ("hate", "jailbreak", "self_harm", "sexual", "violence")


def _azure_results(flagged: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in _CATEGORIES:
        if name == "jailbreak":
            results[name] = {"filtered": name == flagged, "detected": name == flagged}
        else:
            hit = name == flagged
            results[name] = {"filtered": hit, "severity": "medium" if hit else "safe"}
    return results


def refusal_body(api: str, variant: str = "policy") -> dict[str, Any]:
    """The body of ``api``'s refusal (``variant``: ``policy``, or ``prompt`` for OpenAI's
    ``invalid_prompt``)."""
    if api == "anthropic":
        return {"type": "error", "error": {"type": "invalid_request_error",
                                           "message": ANTHROPIC_BLOCKED},
                "request_id": "req_emulator_refusal"}
    if api == "azure":
        return {"error": {"message": _AZURE, "type": None, "param": "prompt",
                          "code": "content_filter", "status": 400,
                          "innererror": {"code": "ResponsibleAIPolicyViolation",
                                         "content_filter_result": _azure_results("violence")}}}
    if api in ("openai", "hf"):
        if variant == "prompt":
            return {"error": {"message": _OPENAI_PROMPT, "type": "invalid_request_error",
                              "param": None, "code": "invalid_prompt"}}
        return {"error": {"message": _OPENAI_POLICY, "type": "invalid_request_error",
                          "param": None, "code": "content_policy_violation"}}
    raise ValueError(f"no refusal body for api {api!r}; expected openai, azure, anthropic or hf")


REFUSAL_VARIANTS = {"openai": ("policy", "prompt"), "azure": ("policy",),
                    "anthropic": ("policy",), "hf": ("policy", "prompt")}
"""Which variants :func:`refusal_body` knows for each API."""


def refusal(api: str, variant: str = "policy") -> Fault:
    """A 400 answer refusing the content, in ``api``'s words, for the next request to it."""
    return Fault.status(400, body=refusal_body(api, variant), api=api)


def stream_refusal(api: str, after_chunks: int = 1) -> Fault:
    """A refusal in the middle of a stream: Anthropic's ``error`` event ("Output blocked by
    content filtering policy"), or an OpenAI-wire error event with the code
    ``content_filter``, after ``after_chunks`` chunks."""
    if api == "anthropic":
        return Fault.stream_error(after_chunks, kind="invalid_request_error",
                                  message=ANTHROPIC_BLOCKED, api=api)
    return Fault.stream_error(after_chunks, kind="content_filter", message=_AZURE, api=api)
