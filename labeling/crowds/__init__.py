"""Where HITs are published (product.md §1.5): the built-in crowd, Amazon Mechanical Turk (closes
2026-09-30) and link-based panels (Prolific-style), behind one backend interface."""
