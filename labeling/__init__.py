"""Labeling: verification projects, their items, HIT scheduling with leases, submissions and
votes, worker quality (gold, flags, blocks) and invites (Deng et al. 2009 §3.2). May import
synsets and candidates; later stages hear from it only through ``labeling.signals``."""
