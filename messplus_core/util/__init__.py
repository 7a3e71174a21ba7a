"""Small helpers with no project knowledge: `io` (atomic writes, file locks, JSON lines)."""
