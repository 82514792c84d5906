"""Help texts that speak of providers. No command's help names a provider itself, and none asks the
registry at start-up (that imports every provider's module, a cost `adsft check` should not pay):
`adsft providers` lists what is installed."""

from __future__ import annotations

PROVIDERS = "a provider's name (`adsft providers` lists them)"
FORMATS = "a shape (chat, instruction) or a provider's name or PROVIDER-SHAPE (`adsft providers` lists them)"
