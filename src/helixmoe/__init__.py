"""Helix MoE: a verifiable mixture of small LLM experts.

One shared base causal LM, one LoRA adapter per expert, a router in front, for domains where every answer
can be checked exactly. The flagship domain is the HLX language family (:mod:`helixmoe.hlx`).
"""

__version__ = "0.1.0"
