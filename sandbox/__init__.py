"""La Redoute sandbox marketplace: a Mirakl seller API over real HTTP, with a control API.

A separate app; the service's domain never imports it.
"""

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig, ShopConfig, Timings

__all__ = ["SandboxConfig", "ShopConfig", "Timings", "create_sandbox_app"]
