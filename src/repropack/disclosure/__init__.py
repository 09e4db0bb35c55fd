"""Statistical disclosure control over outputs before they leave: tables read from CSV/TSV files and
notebook outputs, checks from a registry (threshold, zeros, complementary, dominance, p %), rules from
``[disclosure]`` or an ACRO config, ACRO ``results.json`` honoured, masked copies for ``--suppress``."""
