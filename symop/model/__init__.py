"""The symbolic model: problems, domains, operators and their analysis."""
