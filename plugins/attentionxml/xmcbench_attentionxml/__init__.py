"""AttentionXML for xmcbench: BiLSTM + multi-label attention, trained flat (root + L leaves).

Importing this package does not import torch; `method.AttentionXML` does.
"""

__version__ = "0.1.0"
