"""Analyses of trained runs and training trajectories (Santurkar et al., 2018, and the course studies)."""
