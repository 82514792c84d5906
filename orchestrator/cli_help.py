"""Help texts built from the provider registry (so no command's help names a provider itself)."""

from __future__ import annotations

import providers

PROVIDERS = " | ".join(providers.provider_names())
