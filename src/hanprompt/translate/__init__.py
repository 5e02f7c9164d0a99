"""Translators (MT models, prompted LLMs) behind one interface, and quality metrics."""
