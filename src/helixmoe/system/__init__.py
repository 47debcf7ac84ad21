"""The ``HelixMoE`` system: load a trained system directory, route, answer, verify (layer 2).

from helixmoe.system import HelixMoE
moe = HelixMoE.load()                       # the built-in default system
moe.query("Convert to LC-R: [1, 2, 3]")     # '🜃1, 2, 3🜄'
moe.route_request("Convert to LC-T: null")  # {'specialist': 'ascii', 'response': 'NULL', ...}
load_system_router().route("Convert to LC-R: [1]")  # the routing decision alone, no model loaded
"""

from helixmoe.system.answer import Answer
from helixmoe.system.core import HelixMoE
from helixmoe.system.loading import default_system_path, load_system_router
from helixmoe.system.verify import POLICIES, Check, Verifier

__all__ = ["POLICIES", "Answer", "Check", "HelixMoE", "Verifier", "default_system_path", "load_system_router"]
