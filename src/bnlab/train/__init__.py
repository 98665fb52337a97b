"""Training: optimizers, schedules and losses by name, and the trainer."""
