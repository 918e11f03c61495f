"""Dynamic consensus: ``engine/`` is the pure maths (numpy/scipy, no Django); the app's own modules
wire it to the database. May import synsets, candidates and labeling; nothing upstream imports it
except through ``labeling``'s recompute hook."""
