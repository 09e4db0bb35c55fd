"""File-system mechanisms every stage shares: hashing, tree snapshots, walks that never follow a
symlink (``walk``), outputs that appear whole or not at all (``atomic``), safe zips."""
