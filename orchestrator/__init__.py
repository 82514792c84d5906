"""adsft orchestrator: the pipeline steps and the command-line interface."""
