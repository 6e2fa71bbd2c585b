"""Training: configuration, losses per stage, the stage loop, DDP helpers."""
