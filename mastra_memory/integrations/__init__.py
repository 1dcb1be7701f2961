"""Bridges to agent frameworks. Nothing here imports a framework unless it is used.

* :mod:`mastra_memory.integrations.langchain`: ``MastraChatMessageHistory``, a LangChain
  ``BaseChatMessageHistory`` over a thread (``pip install "mastra-memory[langchain]"``).
* :mod:`mastra_memory.integrations.langgraph`: ``MastraStore``, a LangGraph ``BaseStore`` over
  key-value and vector storage (``[langgraph]``).
* :mod:`mastra_memory.integrations.openai_agents`: ``MastraSession``, an OpenAI Agents SDK
  ``Session`` over a thread (``[openai-agents]``).
* :mod:`mastra_memory.integrations.llama_index`: ``MastraChatStore``, a LlamaIndex chat store
  (``[llama-index]``).
* :mod:`mastra_memory.integrations.pydantic_ai`: ``MastraMessageHistory``, PydanticAI
  ``message_history`` in and ``new_messages()`` out (``[pydantic-ai]``).
* :mod:`mastra_memory.integrations.tools`: ``make_kv_tools(kv)``, plain ``remember`` /
  ``recall`` / ``forget`` functions with type hints and docstrings that any framework can
  register as tools.
"""
