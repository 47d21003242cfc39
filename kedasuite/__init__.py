"""The suite's shared core: the naming contract, settings, client factories, the CLI
and the embedded servers. Producers, workers and jobs all import from here."""
