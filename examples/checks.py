"""Your own checks for examples/prompt-styles.yaml: plain Python, called once per response.

hanprompt imports this file when a run starts (this is your code, run with your rights) and calls
each function named in a `python:` check with the response and a context dict (prompt, messages,
vars, variant, model, output_tokens, threshold). Return True/False, a score from 0 to 1, or
{"pass": ..., "score": ..., "reason": ...}; an exception is a failed check with its message.
"""

KINDS = {
    "books": ("book", "책"),
    "courses": ("course", "강의", "강좌"),
    "documentation": ("documentation", "docs.python.org", "tutorial", "공식 문서"),
    "videos": ("video", "youtube", "영상"),
    "practice": ("exercise", "practice", "project", "연습", "프로젝트"),
    "communities": ("community", "forum", "stack overflow", "discord", "커뮤니티"),
}


def resource_kinds(response: str, context: dict) -> dict:
    """How many kinds of resource the answer recommends: three kinds or more score 1."""
    text = response.casefold()
    found = [kind for kind, words in KINDS.items() if any(w in text for w in words)]
    return {
        "pass": len(found) >= 2,
        "score": min(1.0, len(found) / 3),
        "reason": f"{len(found)} kinds of resource: {', '.join(found) or 'none'}",
    }
