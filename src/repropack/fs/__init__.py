"""File-system mechanisms every stage shares: hashing, tree snapshots, safe zips."""
