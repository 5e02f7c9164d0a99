"""hanprompt: a local-first prompt lab for open LLMs, with Korean as a first-class language."""
__version__ = "0.1.0"
