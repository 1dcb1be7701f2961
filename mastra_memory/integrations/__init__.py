"""Bridges to agent frameworks. Nothing here imports a framework unless it is used.

* :mod:`mastra_memory.integrations.langchain`: ``MastraChatMessageHistory``, a LangChain
  ``BaseChatMessageHistory`` over a thread (``pip install "mastra-memory[langchain]"``).
* :mod:`mastra_memory.integrations.tools`: ``make_kv_tools(kv)``, plain ``remember`` /
  ``recall`` / ``forget`` functions with type hints and docstrings that any framework can
  register as tools.
"""
