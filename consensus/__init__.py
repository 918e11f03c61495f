"""Consensus: ``engine/`` is the pure maths of dynamic consensus (numpy/scipy, no Django); the
app's own modules (``recompute``, ``tasks``) wire it to labeling's votes and items. May import
synsets, candidates and labeling; labeling reaches it only through the ``labeling.signals``
interface, which this app connects to in ``ConsensusConfig.ready``."""
