"""Clustering: Raft (pysyncobj) around the store's write path and gossip membership.

Not built yet (a later issue): a single node applies batches directly through ``store.Store``.
"""
