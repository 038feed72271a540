"""The LLM gateway example (guide seed 003): see README.md and app.py."""
