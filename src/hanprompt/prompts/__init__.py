"""Prompt styles and templates: turning a task into the chat messages a model sees."""
from hanprompt.prompts.styles import STYLES, Example, build_messages
from hanprompt.prompts.template import render, template_variables

__all__ = ["STYLES", "Example", "build_messages", "render", "template_variables"]
