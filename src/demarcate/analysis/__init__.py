"""Pure analysis over a loaded System: responsibility, matrix, rules, paths, leverage."""
