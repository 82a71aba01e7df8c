"""Payment-provider adapters: one module per provider protocol, each exporting `Adapter` (see `base`)."""
